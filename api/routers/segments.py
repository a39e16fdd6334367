"""Saved segments: commands to define them, and the customers in each (over customer_360)."""

from functools import partial
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Reader
from api.commanding import aggregate_id, command_route, existing, new_aggregate, read, run
from commands.segments import SEGMENT_NAME, DefineSegment, RedefineSegment
from commands.side_tables import claim_holders, claimed_by
from domain.segment import Segment
from infra.event_store import load_aggregate
from projections.customer_360 import queries

router = APIRouter(
    prefix="/v1/segments", tags=["segments"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)


@command("POST", "", 201, DefineSegment, creates=True)
async def define_segment(request: Request) -> JSONResponse:
    """Save a segment: a name, and criteria over the customer 360 view."""
    return await run(request, DefineSegment, new_aggregate, router.prefix)


@command("PATCH", "/{segment_id}", 200, RedefineSegment)
async def redefine_segment(request: Request, segment_id: str) -> JSONResponse:
    """Replace a segment's criteria."""
    return await run(request, RedefineSegment, existing(segment_id, "segment"))


@router.get("")
def list_segments(request: Request, _: Reader) -> dict[str, Any]:
    """Every saved segment, by name: `{items}`."""
    return {"items": read(request, _all_segments)}


@router.get("/{segment_id}", responses=problems.documented(404))
def get_segment(request: Request, segment_id: str, _: Reader) -> dict[str, Any]:
    """One segment, with how many customers are in it now."""
    segment = _segment(request, aggregate_id(segment_id, "segment"))
    return _shown(segment) | {"customers": read(request, queries.count, segment.criteria)}


def segment_named(request: Request, name: str) -> Segment:
    """The segment with this name; 404 if there is none."""
    found = read(request, claimed_by, SEGMENT_NAME, name)
    if found is None:
        raise HTTPException(404, f"no segment named {name!r}")
    return _segment(request, found)


def _segment(request: Request, segment_id: UUID) -> Segment:
    found = read(request, load_aggregate, segment_id)
    if not isinstance(found, Segment):
        raise HTTPException(404, f"no segment with id {segment_id}")
    return found


def _all_segments(conn: Any) -> list[dict[str, Any]]:
    return [_shown(load_aggregate(conn, i)) for i in claim_holders(conn, SEGMENT_NAME)]


def _shown(segment: Segment) -> dict[str, Any]:
    return {
        "id": str(segment.id),
        "version": segment.version,
        "name": segment.name,
        "criteria": segment.criteria.model_dump(mode="json", exclude_defaults=True),
    }
