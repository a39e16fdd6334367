"""The sales pipeline report (`GET /v1/pipeline`), read from the deals read model."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from api import problems
from api.commanding import read
from api.policing import PolicedRoute
from commands.base import StorableText
from projections.deals import queries
from projections.deals.pipeline import Pipeline

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/pipeline",
    tags=["pipeline"],
    responses=problems.documented(401, 403, 422, 503),
)

Time = AwareDatetime | None
"""Reports are for analysts, and auditors (`as_of_recorded`); admin passes every check."""


@router.get("", response_model=Pipeline)
def get_pipeline(
    request: Request,
    owner: Annotated[
        StorableText | None, Query(max_length=500, description="The deals' owner")
    ] = None,
    opened_from: Annotated[Time, Query(description="Opened at or after (business time)")] = None,
    opened_to: Annotated[Time, Query(description="Opened before (business time)")] = None,
    as_of: Annotated[Time, Query(description="As it stood then (business time)")] = None,
    as_of_recorded: Annotated[Time, Query(description="As recorded by then")] = None,
) -> Pipeline:
    """The sales pipeline by stage, with conversion, win rate, lost reasons and forecast."""
    query = queries.PipelineQuery(owner, opened_from, opened_to, as_of, as_of_recorded)
    return read(request, queries.pipeline, query)
