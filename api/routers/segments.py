"""Saved segments: commands to define them, and the customers in each (over customer_360)."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from api import problems
from api.command_routes import NEW, CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.policing import PolicedRoute
from api.views.segments import Segments, SegmentWithCount
from commands.segments import DefineSegment, RedefineSegment
from projections.customer_360 import queries as customers
from projections.segments import queries as segments
from projections.segments.queries import SegmentView

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/segments",
    tags=["segments"],
    responses=problems.documented(401, 403, 422, 503),
)


add_command_routes(
    router,
    CommandRoute(
        "POST",
        DefineSegment,
        NEW,
        "Save a segment: a name, and criteria over the customer 360 view.",
        located=router.prefix,
    ),
    CommandRoute(
        "PATCH /{segment_id}",
        RedefineSegment,
        in_path("segment_id", "segment"),
        "Replace a segment's criteria.",
    ),
)


@router.get("", response_model=Segments, response_model_exclude_unset=True)
def list_segments(request: Request) -> dict[str, Any]:
    """Every saved segment, by name: `{items}`."""
    return {"items": [s.shown() for s in read(request, segments.every_segment)]}


@router.get(
    "/{segment_id}",
    response_model=SegmentWithCount,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_segment(request: Request, response: Response, segment_id: str) -> dict[str, Any]:
    """One segment, with how many customers are in it now (ETag: its version)."""
    found = read(request, segments.segment, aggregate_id(segment_id, "segment"))
    if found is None:
        raise HTTPException(404, f"no segment with id {segment_id}")
    response.headers["ETag"] = f'"{found.version}"'
    return found.shown() | {"customers": read(request, customers.count, found.criteria)}


def segment_named(request: Request, name: str) -> SegmentView:
    """The segment with this name; 404 if there is none."""
    found = read(request, segments.segment_named, name)
    if found is None:
        raise HTTPException(404, f"no segment named {name!r}")
    return found
