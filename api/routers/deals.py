"""Deal commands and queries."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from api import problems
from api.command_routes import NEW, CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.policing import PolicedRoute
from commands.deals import ChangeDealAmount, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal
from projections.deals import queries

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/deals",
    tags=["deals"],
    responses=problems.documented(401, 403, 422, 503),
)


class StageStay(BaseModel):
    """A stage the deal entered, its win probability then, and when."""

    stage: str
    probability: int
    entered_at: datetime


class DealView(BaseModel):
    """One deal as it is now; `probability` is its current stage's, in percent."""

    id: UUID
    version: int
    customer_id: UUID
    title: str
    amount: Decimal
    currency: str
    stage: str
    status: Literal["open", "won", "lost"]
    probability: int
    expected_close_date: date | None
    owner: str | None
    lost_reason: str | None
    opened_at: datetime
    closed_at: datetime | None
    history: list[StageStay]


DEAL = in_path("deal_id", "deal")

add_command_routes(
    router,
    CommandRoute("POST", OpenDeal, NEW, "Open a deal with a customer.", located=router.prefix),
    CommandRoute(
        "POST /{deal_id}/stage", MoveDeal, DEAL, "Move an open deal to another open stage."
    ),
    CommandRoute(
        "POST /{deal_id}/amount",
        ChangeDealAmount,
        DEAL,
        "Change an open deal's amount (recorded with the old one).",
    ),
    CommandRoute("POST /{deal_id}/won", WinDeal, DEAL, "Close an open deal as won."),
    CommandRoute(
        "POST /{deal_id}/lost", LoseDeal, DEAL, "Close an open deal as lost, with the reason."
    ),
    CommandRoute(
        "POST /{deal_id}/reopen", ReopenDeal, DEAL, "Reopen a won or lost deal in an open stage."
    ),
)


@router.get("/{deal_id}", response_model=DealView, responses=problems.documented(404))
def get_deal(request: Request, response: Response, deal_id: str) -> dict[str, Any]:
    """One deal: amount, stage, win probability and stage history (ETag: its version)."""
    found = read(request, queries.deal, aggregate_id(deal_id, "deal"))
    if found is None:
        raise HTTPException(404, f"no deal with id {deal_id}")
    response.headers["ETag"] = f'"{found["version"]}"'
    return found
