"""SLA policies (set and read them) and the SLA of tickets, measured at query time."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from api import problems
from api.command_routes import CommandRoute, add_command_routes, of_command
from api.commanding import read
from api.page_cursors import last_key
from api.policing import PolicedRoute
from commands.sla import SetSlaPolicy
from domain.business_time import Weekday
from domain.sla_policy import policy_id
from domain.ticket import Priority, TicketStatus
from projections.sla import policies as policy_queries
from projections.sla import summary as sla_summary
from projections.sla import tickets as sla_queries

router = APIRouter(
    route_class=PolicedRoute, tags=["sla"], responses=problems.documented(401, 403, 422, 503)
)

State = Literal["ok", "at_risk", "breached", "met"]
Period = Literal["day", "week", "month"]
SUMMARY_DAYS = 90
"""How far back the summary looks when `from` is not given."""


WallClock = Annotated[
    time,
    WithJsonSchema(
        {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"},
        mode="serialization",
    ),
]
"""A wall-clock time, shown "HH:MM:SS" (JSON Schema's `time` format wants an offset)."""


class BusinessHoursView(BaseModel):
    """When the policy's clock runs (see `BusinessHoursSetting`)."""

    model_config = ConfigDict(from_attributes=True)

    timezone: str
    days: list[Weekday]
    start: WallClock
    end: WallClock
    holidays: list[date]


class PolicyVersionView(BaseModel):
    """A version of a policy, and the business time it took effect."""

    version: int
    effective_at: datetime
    first_response_minutes: int
    resolution_minutes: int
    business_hours: BusinessHoursView | None


class PolicyView(BaseModel):
    """A priority's SLA policy: its current version, and every version, oldest first."""

    id: UUID
    priority: Priority
    version: int
    versions: list[PolicyVersionView]


class TargetView(BaseModel):
    """One target of a ticket: business minutes allowed, business time used, when it is due
    (null while the ticket is pending short of it) and its state."""

    target_minutes: int
    elapsed_seconds: float
    due_at: datetime | None
    state: State


class FirstResponseView(TargetView):
    """The first-response target, and the first agent reply (if any)."""

    responded_at: datetime | None


class TicketSlaView(BaseModel):
    """A ticket's SLA: the policy version that applies, its targets, its overall state."""

    ticket_id: UUID
    customer_id: UUID
    priority: Priority
    status: TicketStatus
    opened_at: datetime
    policy_id: UUID
    policy_version: int
    state: State
    paused: bool
    first_response: FirstResponseView
    resolution: TargetView


class OutcomesView(BaseModel):
    """How many tickets met and breached a target, and the share met of those decided."""

    met: int
    breached: int
    compliance: float | None


class FirstResponseOutcomesView(OutcomesView):
    """The first-response outcomes, and the median business time to the first agent reply."""

    median_seconds: float | None


class SummaryBucketView(BaseModel):
    """The tickets of one priority opened in one period (`start`: its first UTC day)."""

    start: date
    priority: Priority
    tickets: int
    first_response: FirstResponseOutcomesView
    resolution: OutcomesView
    resolution_rate: float


class SlaSummaryView(BaseModel):
    """SLA compliance of the tickets opened from `from` (to `to`, if given), by period and
    priority."""

    as_of: datetime
    period: Period
    from_: date = Field(alias="from")
    to: date | None
    buckets: list[SummaryBucketView]


class TicketSlaPage(BaseModel):
    """A page of tickets' SLA as of `as_of`, and the cursor of the next page (or null)."""

    as_of: datetime
    items: list[TicketSlaView]
    next_cursor: str | None


add_command_routes(
    router,
    CommandRoute(
        "POST /v1/sla-policies",
        SetSlaPolicy,
        of_command(lambda command: policy_id(command.priority)),
        "Set a priority's SLA policy (each change is a new version; open tickets take it at once).",
    ),
)


@router.get("/v1/sla-policies", response_model=list[PolicyView])
def list_sla_policies(request: Request) -> list[dict[str, Any]]:
    """Every priority's SLA policy, with all its versions."""
    found: dict[Priority, policy_queries.Policy] = read(request, policy_queries.policies)
    return [
        {
            "id": policy.id,
            "priority": policy.priority,
            "version": policy.version,
            "versions": [
                {"version": v.version, "effective_at": v.effective_at, **dict(v.terms)}
                for v in policy.versions
            ],
        }
        for policy in sorted(found.values(), key=lambda p: list(Priority).index(p.priority))
    ]


@router.get("/v1/sla/tickets", response_model=TicketSlaPage)
def list_ticket_slas(
    request: Request,
    state: State | None = None,
    priority: Priority | None = None,
    as_of: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Tickets with their SLA targets, due times (UTC), business time used and state, as of
    `as_of` (default: now), in ticket-id order; `state` and `priority` filter. Tickets of a
    priority without a policy are not listed."""
    page: sla_queries.Page = read(
        request,
        sla_queries.sla_tickets,
        (as_of or datetime.now(UTC)).astimezone(UTC),
        state=state,
        priority=priority,
        after=last_key(cursor, UUID),
        limit=limit,
    )
    body = {"as_of": page.as_of, "items": page.items, "next_cursor": page.next_cursor}
    # The items are built to TicketSlaPage's shape and written by orjson, not validated again
    # through the response model (docs/decisions/0004-binary-sla-clocks.md).
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


@router.get("/v1/sla/summary", response_model=SlaSummaryView, response_model_by_alias=True)
def summarize_slas(
    request: Request,
    period: Period = "week",
    from_: Annotated[date | None, Query(alias="from", description="First UTC day")] = None,
    to: Annotated[date | None, Query(description="Last UTC day (included)")] = None,
    as_of: AwareDatetime | None = None,
) -> dict[str, Any]:
    """SLA compliance % per priority and period of opening (UTC day, ISO week or month), the
    median first response and the resolution rate, as of `as_of` (default: now), for the
    tickets opened from `from` (default: 90 days before `as_of` or the end of `to`) to `to`
    (included; default: no bound but `as_of`)."""
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    if from_ and to and to < from_:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "must not be before `from`", "type": "value_error"}]
        )
    until = None if to is None else datetime.combine(to, time.max, UTC)
    first = from_ or _days_before(min(now, until or now), SUMMARY_DAYS)
    since = datetime.combine(first, time(), UTC)
    buckets = read(request, sla_summary.sla_summary, now, period, since, until)
    return {"as_of": now, "period": period, "from": first, "to": to, "buckets": buckets}


def _days_before(instant: datetime, days: int) -> date:
    """The UTC day `days` days before `instant` (the first day of the calendar, at most)."""
    try:
        return (instant - timedelta(days=days)).date()
    except OverflowError:
        return date.min
