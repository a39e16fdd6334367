"""The pipeline's stage configuration: read it, and (admin) set it."""

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api import problems
from api.command_routes import CommandRoute, add_command_routes, fixed
from api.commanding import read
from api.policing import PolicedRoute
from commands.deals import ConfigureStages
from domain.pipeline import CLOSED, PIPELINE_ID
from projections.settings import queries

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/pipeline/stages",
    tags=["pipeline"],
    responses=problems.documented(401, 403, 422, 503),
)


class StageView(BaseModel):
    """A stage, its win probability in percent, and whether it closes a deal."""

    name: str
    probability: int
    closed: bool


class StagesView(BaseModel):
    """The stages deals may be in: the open ones in order, then won and lost."""

    version: int
    stages: list[StageView]


@router.get("", response_model=StagesView)
def get_stages(request: Request, response: Response) -> dict[str, Any]:
    """The pipeline's stages and win probabilities (ETag: the configuration's version)."""
    found: queries.PipelineStages = read(request, queries.pipeline_stages)
    response.headers["ETag"] = f'"{found.version}"'
    return {
        "version": found.version,
        "stages": [
            {"name": s.name, "probability": s.probability, "closed": s.name in CLOSED}
            for s in found.stages.all_stages()
        ],
    }


add_command_routes(
    router,
    CommandRoute(
        "PUT",
        ConfigureStages,
        fixed(PIPELINE_ID),
        "Set the open stages, in order, with their win probabilities (admin only).",
        admin=True,
    ),
)
