"""Deal commands and queries."""

from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import problems
from api.auth import Reader
from api.commanding import aggregate_id, command_route, existing, new_aggregate, read, run
from commands.deals import ChangeDealAmount, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal
from projections.deals import queries

router = APIRouter(
    prefix="/v1/deals", tags=["deals"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)


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


@command("POST", "", 201, OpenDeal, creates=True)
async def open_deal(request: Request) -> JSONResponse:
    """Open a deal with a customer."""
    return await run(request, OpenDeal, new_aggregate, located=router.prefix)


@command("POST", "/{deal_id}/stage", 200, MoveDeal)
async def move_deal(request: Request, deal_id: str) -> JSONResponse:
    """Move an open deal to another open stage."""
    return await run(request, MoveDeal, existing(deal_id, "deal"))


@command("POST", "/{deal_id}/amount", 200, ChangeDealAmount)
async def change_deal_amount(request: Request, deal_id: str) -> JSONResponse:
    """Change an open deal's amount (recorded with the old one)."""
    return await run(request, ChangeDealAmount, existing(deal_id, "deal"))


@command("POST", "/{deal_id}/won", 200, WinDeal)
async def win_deal(request: Request, deal_id: str) -> JSONResponse:
    """Close an open deal as won."""
    return await run(request, WinDeal, existing(deal_id, "deal"))


@command("POST", "/{deal_id}/lost", 200, LoseDeal)
async def lose_deal(request: Request, deal_id: str) -> JSONResponse:
    """Close an open deal as lost, with the reason."""
    return await run(request, LoseDeal, existing(deal_id, "deal"))


@command("POST", "/{deal_id}/reopen", 200, ReopenDeal)
async def reopen_deal(request: Request, deal_id: str) -> JSONResponse:
    """Reopen a won or lost deal in an open stage."""
    return await run(request, ReopenDeal, existing(deal_id, "deal"))


@router.get("/{deal_id}", response_model=DealView, responses=problems.documented(404))
def get_deal(request: Request, response: Response, deal_id: str, _: Reader) -> dict[str, Any]:
    """One deal: amount, stage, win probability and stage history (ETag: its version)."""
    found = read(request, queries.deal, aggregate_id(deal_id, "deal"))
    if found is None:
        raise HTTPException(404, f"no deal with id {deal_id}")
    response.headers["ETag"] = f'"{found["version"]}"'
    return found
