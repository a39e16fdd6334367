"""The pipeline's stage configuration: read it, and (admin) set it."""

from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from psycopg import Connection
from pydantic import BaseModel

from api import problems
from api.auth import Admin, Reader
from api.commanding import command_route, read, run
from commands.context import Target
from commands.deals import ConfigureStages
from domain.pipeline import CLOSED, PIPELINE_ID, Pipeline, Stages, stages_of
from infra.event_store import load_aggregate

router = APIRouter(
    prefix="/v1/pipeline/stages",
    tags=["pipeline"],
    responses=problems.documented(401, 403, 422, 503),
)
command = partial(command_route, router)


class StageView(BaseModel):
    """A stage, its win probability in percent, and whether it closes a deal."""

    name: str
    probability: int
    closed: bool


class StagesView(BaseModel):
    """The stages deals may be in: the open ones in order, then won and lost."""

    version: int
    stages: list[StageView]


def _pipeline_target() -> Target:
    """The pipeline, created by its first configuration and changed by the next ones."""
    return Target(PIPELINE_ID, creates=True)


def pipeline(conn: Connection[Any]) -> Pipeline | None:
    """The pipeline, or None while it has never been configured."""
    return load_aggregate(conn, PIPELINE_ID)


def configured_stages(conn: Connection[Any]) -> Stages:
    """The stages deals are checked against: the configured ones, else the defaults."""
    return stages_of(pipeline(conn))


@router.get("", response_model=StagesView)
def get_stages(request: Request, response: Response, _: Reader) -> dict[str, Any]:
    """The pipeline's stages and win probabilities (ETag: the configuration's version)."""
    found = read(request, pipeline)
    version = found.version if found is not None else 0
    response.headers["ETag"] = f'"{version}"'
    return {
        "version": version,
        "stages": [
            {"name": s.name, "probability": s.probability, "closed": s.name in CLOSED}
            for s in stages_of(found).all_stages()
        ],
    }


@command("PUT", "", 200, ConfigureStages, creates=True)
async def configure_stages(request: Request, _: Admin) -> JSONResponse:
    """Set the open stages, in order, with their win probabilities (admin only)."""
    return await run(request, ConfigureStages, _pipeline_target)
