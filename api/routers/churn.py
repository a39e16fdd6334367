"""Churn: each buyer's risk and the BG/NBD model of buying behaviour."""

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from api import problems
from api.policing import PolicedRoute
from api.views.churn import ChurnPage, Level, ModelView
from domain.churn.model import shown
from projections.churn import assessment
from projections.churn.models import ChurnModels

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/churn",
    tags=["churn"],
    responses=problems.documented(401, 403),
)


def _aware(value: object) -> object:
    """A time needs its UTC offset."""
    if isinstance(value, str) and "T" in value:
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() is None:
            raise ValueError("a time needs its UTC offset, e.g. 2026-01-31T18:00:00+01:00")
        return moment
    return value


def _utc_date(value: object) -> object:
    """A time (with its offset) stands for its UTC date; a date is itself."""
    value = _aware(value)
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def _instant(value: object) -> object:
    """A date stands for its last instant (UTC); a time (with its offset) is itself."""
    value = _aware(value)
    if isinstance(value, datetime):
        return value
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return datetime.combine(day, time.max, UTC) if isinstance(day, date) else day


UtcDate = Annotated[date, BeforeValidator(_utc_date)]
Instant = Annotated[datetime, BeforeValidator(_instant)]


@router.get("", response_model=ChurnPage, responses=problems.documented(409, 422))
def churn_risks(
    request: Request,
    risk: Annotated[Level | None, Query(description="Only customers at this risk level")] = None,
    as_of: Annotated[
        Instant | None,
        Query(description="A time, or a date taken as its last instant (UTC); now by default"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Every customer who has bought, with their churn signals, P(alive), expected purchases
    in the next 90 days and risk (0-1) with the signals that drove it, highest risk first:
    `{as_of, model, items, next_cursor}`. Levels: high >= 0.6 > medium >= 0.3 > low. 409
    when no customer bought twice (no model)."""
    try:
        after = assessment.position(cursor) if cursor else None
    except ValueError as error:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": str(error), "type": "value_error"}]
        ) from None
    ranking = _models(request).ranking(None if as_of is None else as_of.astimezone(UTC))
    found = ranking.page(risk, after, limit)
    return {
        "as_of": ranking.at,
        "model": shown(ranking.buyers.model, ranking.buyers.day),
        "items": [assessment.shown(a) for a in found.items],
        "next_cursor": found.next_cursor,
    }


@router.get("/model", response_model=ModelView, responses=problems.documented(409, 422))
def churn_model(
    request: Request,
    as_of: Annotated[
        UtcDate | None,
        Query(description="A date, or a time taken as its UTC date; today (UTC) by default"),
    ] = None,
) -> dict[str, Any]:
    """The BG/NBD model fitted on purchases up to `as_of`: r, alpha (weeks), a, b, the
    log-likelihood and the number of customers; 409 when no customer bought twice. Without
    `as_of`, the model kept for now (`as_of`: yesterday's just after midnight UTC)."""
    models = _models(request)
    found = models.current()[0] if as_of is None else models.fit(as_of)
    return shown(found.model, found.day)


def _models(request: Request) -> ChurnModels:
    """The fits and rankings this process keeps."""
    return request.app.state.churn  # type: ignore[no-any-return]
