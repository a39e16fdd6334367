"""Sales and product reports (analysts and auditors), from the purchases read model, as of
any business time (`as_of`) or recording time (`as_of_recorded`)."""

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, Field

from api import problems
from api.commanding import read
from api.policing import PolicedRoute
from commands.base import MAX_INT, StorableText
from projections.purchases import periods, products, sales
from projections.purchases.periods import Period
from projections.purchases.products import Ranking
from projections.purchases.scope import Scope

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/reports",
    tags=["reports"],
    responses=problems.documented(401, 403, 422, 503),
)
Limit = Annotated[int, Query(ge=1, le=200)]
LATEST = date(9999, 11, 30)
"""The last day a report may name: its month, and the day after it, are in the calendar."""


def scope(
    from_: Annotated[
        date | None, Query(alias="from", le=LATEST, description="First UTC day")
    ] = None,
    to: Annotated[date | None, Query(le=LATEST, description="Last UTC day (included)")] = None,
    as_of: Annotated[AwareDatetime | None, Query(description="Business time")] = None,
    as_of_recorded: Annotated[AwareDatetime | None, Query(description="Recording time")] = None,
) -> Scope:
    """The purchases a report counts: occurred from `from` to `to`, known at `as_of` and
    `as_of_recorded`."""
    if from_ and to and from_ > to:
        _invalid("from", "must not be after `to`")
    return Scope(from_, to, as_of, as_of_recorded)


Scoped = Annotated[Scope, Depends(scope)]


class Report(BaseModel):
    """The purchases a report counted (`from` and `to` are UTC days, both included)."""

    from_: date | None = Field(serialization_alias="from")
    to: date | None
    as_of: datetime | None
    as_of_recorded: datetime | None


class SalesReport(Report):
    """Sales per bucket, oldest first, empty buckets included."""

    period: Period
    buckets: list[sales.Bucket]


class ProductsReport(Report):
    """The best sellers of each currency."""

    order_by: Ranking
    currencies: list[products.CurrencyProducts]


class BoughtTogetherReport(Report):
    """The products bought in the same orders as `sku`, strongest first: `orders` have
    `sku`, of `baskets` orders with a SKU."""

    sku: str
    orders: int
    baskets: int
    items: list[products.Association]


@router.get("/sales", response_model=SalesReport)
def sales_report(request: Request, scoped: Scoped, period: Period = Period.MONTH) -> SalesReport:
    """Revenue, orders, average order value, new vs returning customers, per period and
    currency; `from` and `to` are widened to whole periods."""
    today = min(t for t in (scoped.as_of, scoped.as_of_recorded, datetime.now(UTC)) if t)
    try:
        first, last = periods.whole_buckets(
            scoped.first, scoped.last, period, today.astimezone(UTC).date()
        )
    except (ValueError, OverflowError):  # a default range before year 1
        _invalid("from", "the range begins before year 1")
    if periods.count(first, last, period) > periods.MAX_BUCKETS:
        _invalid("from", f"more than {periods.MAX_BUCKETS} {period.value}s")
    scoped = replace(scoped, first=first, last=last)
    buckets = read(request, sales.sales, period, scoped)
    return SalesReport(**_echo(scoped), period=period, buckets=buckets)


@router.get("/products", response_model=ProductsReport)
def products_report(
    request: Request,
    scoped: Scoped,
    order_by: Ranking = Ranking.QUANTITY,
    limit: Limit = 20,
) -> ProductsReport:
    """The best-selling products (by SKU) of each currency, by quantity or revenue."""
    found = read(request, products.best_sellers, scoped, order_by, limit)
    return ProductsReport(**_echo(scoped), order_by=order_by, currencies=found)


@router.get("/products/bought-together", response_model=BoughtTogetherReport)
def bought_together_report(
    request: Request,
    scoped: Scoped,
    sku: Annotated[StorableText, Query(min_length=1, max_length=200)],
    limit: Limit = 20,
    min_orders: Annotated[int, Query(ge=1, le=MAX_INT)] = 1,
) -> BoughtTogetherReport:
    """The products most often bought in the same orders as `sku`, with support,
    confidence and lift (for cross-selling)."""
    found = read(request, products.bought_together, scoped, sku, limit, min_orders)
    return BoughtTogetherReport(**_echo(scoped), **vars(found))


def _echo(scoped: Scope) -> dict[str, object]:
    return {
        "from_": scoped.first,
        "to": scoped.last,
        "as_of": scoped.as_of,
        "as_of_recorded": scoped.as_of_recorded,
    }


def _invalid(field: str, message: str) -> NoReturn:
    raise RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])
