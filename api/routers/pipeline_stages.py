"""The pipeline's stage configuration: read it, and (admin) set it."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from psycopg import Connection
from pydantic import BaseModel

from api import problems
from api.auth import Reader, requires
from api.commanding import command_route, read, run
from commands.context import Target
from commands.deals import ConfigureStages
from domain.pipeline import CLOSED, DEFAULT_STAGES, PIPELINE_ID, Pipeline, Stages
from infra.api_keys import Principal
from infra.event_store import load_aggregate

router = APIRouter(
    prefix="/v1/pipeline/stages",
    tags=["pipeline"],
    responses=problems.documented(401, 403, 422, 503),
)
command = partial(command_route, router)
Admin = Annotated[Principal, Depends(requires())]


class StageView(BaseModel):
    """A stage, its win probability in percent, and whether it closes a deal."""

    name: str
    probability: int
    closed: bool


class StagesView(BaseModel):
    """The stages deals may be in: the open ones in order, then won and lost."""

    version: int
    stages: list[StageView]


def pipeline(conn: Connection[Any]) -> Pipeline | None:
    """The pipeline, or None while it has never been configured."""
    return load_aggregate(conn, PIPELINE_ID)


def configured_stages(conn: Connection[Any]) -> Stages:
    """The stages deals are checked against: the configured ones, else the defaults."""
    found = pipeline(conn)
    return found.stages if found is not None else DEFAULT_STAGES


@router.get("", response_model=StagesView)
def get_stages(request: Request, response: Response, _: Reader) -> dict[str, Any]:
    """The pipeline's stages and win probabilities (ETag: the configuration's version)."""
    found = read(request, pipeline)
    stages = found.stages if found is not None else DEFAULT_STAGES
    version = found.version if found is not None else 0
    response.headers["ETag"] = f'"{version}"'
    return {
        "version": version,
        "stages": [
            {"name": s.name, "probability": s.probability, "closed": s.name in CLOSED}
            for s in stages.all_stages()
        ],
    }


@command("PUT", "", 200, ConfigureStages, creates=True)
async def configure_stages(request: Request, _: Admin) -> JSONResponse:
    """Set the open stages, in order, with their win probabilities (admin only)."""
    exists = await run_in_threadpool(read, request, pipeline) is not None
    return await run(request, ConfigureStages, lambda: Target(PIPELINE_ID, creates=not exists))
