"""Churn: the BG/NBD model of buying behaviour (CONTRACT.md)."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from api import problems
from api.auth import Reader
from api.commanding import read
from projections.churn.model import fitted, shown

router = APIRouter(prefix="/v1/churn", tags=["churn"], responses=problems.documented(401, 403))


def _utc_date(value: object) -> object:
    """A time (with its offset) stands for its UTC date; a date is itself."""
    if isinstance(value, str) and "T" in value:
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() is None:
            raise ValueError("a time needs its UTC offset, e.g. 2026-01-31T18:00:00+01:00")
        return moment.astimezone(UTC).date()
    return value


UtcDate = Annotated[date, BeforeValidator(_utc_date)]


@router.get("/model", responses=problems.documented(409, 422))
def churn_model(
    request: Request,
    _: Reader,
    as_of: Annotated[
        UtcDate | None,
        Query(description="A date, or a time taken as its UTC date; today (UTC) by default"),
    ] = None,
) -> dict[str, Any]:
    """The BG/NBD model fitted on purchases up to `as_of`: r, alpha (weeks), a, b, the
    log-likelihood and the number of customers; 409 when no customer bought twice."""
    day = as_of or datetime.now(UTC).date()
    return shown(read(request, fitted, day), day)
