"""The vectorised SLA measure against a reference written ticket by ticket with the scalar
business-time functions (`elapsed`, `due`) and `Policy.in_force`, for random tickets,
histories, policy versions and instants."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.business_time import BusinessHours, Pause, Weekday, due, elapsed, micros, moment
from domain.sla_policy import SlaTerms
from domain.ticket import Priority, TicketStatus
from projections.sla.measure import NEVER, NO_DUE, PRIORITIES, STATES, STATUSES, Clocks, measure
from projections.sla.policies import Policy, PolicyVersion

START = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
OFFICE = BusinessHours(
    timezone="Europe/Paris",
    days=(Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI),
    start=time(9),
    end=time(18),
)


@dataclass(frozen=True)
class Ticket:
    priority: Priority
    history: list[tuple[datetime, TicketStatus]]
    first_response: datetime | None


minutes = st.integers(0, 4000).map(lambda m: START + timedelta(minutes=m))
terms = st.builds(
    SlaTerms,
    first_response_minutes=st.integers(1, 900),
    resolution_minutes=st.integers(1, 3000),
    business_hours=st.sampled_from([None, OFFICE]),
)


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    at = draw(minutes)
    history = [(at, TicketStatus.OPEN)]
    for gap, status in draw(
        st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(TicketStatus)), max_size=5)
    ):
        at += timedelta(minutes=gap)
        history.append((at, status))
    first = draw(
        st.none() | st.integers(-10, 5000).map(lambda m: history[0][0] + timedelta(minutes=m))
    )
    return Ticket(draw(st.sampled_from(Priority)), history, first)


@st.composite
def policies(draw: st.DrawFn) -> dict[Priority, Policy]:
    found = {}
    for priority in draw(st.sets(st.sampled_from(Priority))):
        versions = draw(st.lists(st.tuples(minutes, terms), min_size=1, max_size=3))
        found[priority] = Policy(uuid4(), priority, len(versions), tuple(
            PolicyVersion(number, effective, kept) for number, (effective, kept) in enumerate(versions, 1)
        ))  # fmt: skip
    return found


def clocks(tickets: list[Ticket]) -> Clocks:
    changes = [(i, at, status) for i, t in enumerate(tickets) for at, status in t.history]
    return Clocks(
        priority=np.array([PRIORITIES.index(t.priority) for t in tickets], dtype=np.int64),
        first_response=np.array(
            [micros(t.first_response) if t.first_response else NEVER for t in tickets],
            dtype=np.int64,
        ),
        ticket=np.array([i for i, _, _ in changes], dtype=np.int64),
        at=np.array([micros(at) for _, at, _ in changes], dtype=np.int64),
        status=np.array([STATUSES.index(s) for _, _, s in changes], dtype=np.int64),
    )


SETTLED = (TicketStatus.SOLVED, TicketStatus.CLOSED)


def reference(ticket: Ticket, policy: Policy | None, as_of: datetime) -> tuple | None:
    """(version, first response, resolution, state), each target as (elapsed µs, due, state)."""
    history = [(at, s) for at, s in ticket.history if at <= as_of]
    nexts = [at for at, _ in history[1:]] + [as_of]
    stays = [(at, max(at, later), s) for (at, s), later in zip(history, nexts, strict=True)]
    running = [(at, end) for at, end, s in stays if s == TicketStatus.OPEN]
    now = history[-1][1]
    settled_at = settled_since(history) if now in SETTLED else None
    version = policy.in_force(settled_at or as_of) if policy else None
    if version is None:
        return None
    hours, paused = version.terms.business_hours, now == TicketStatus.PENDING
    first = ticket.first_response
    responded = first if first and first <= as_of else None
    answered = [(s, max(min(e, responded), s)) if responded else (s, e) for s, e in running]
    stopped = min((t for t in (responded, settled_at) if t is not None), default=None)
    response = target(hours, answered, version.terms.first_response_minutes,
                      stopped is not None, stopped, paused, as_of)  # fmt: skip
    resolution = target(hours, running, version.terms.resolution_minutes,
                        bool(settled_at), settled_at, paused, as_of)  # fmt: skip
    states = (response[2], resolution[2])
    unmet = max((s if s != "met" else "ok" for s in states), key=STATES.index)
    return version.version, response, resolution, "met" if states == ("met", "met") else unmet


def settled_since(history: list[tuple[datetime, TicketStatus]]) -> datetime:
    """When the ticket's last run of solved or closed statuses began."""
    first = len(history) - 1
    while history[first - 1][1] in SETTLED:
        first -= 1
    return history[first][0]


def target(hours, spans, limit_minutes, stopped, stop, paused, as_of) -> tuple:
    """(elapsed µs, due, state) of a target whose clock ran in `spans` and, unless paused,
    runs on from `stop` (stopped) or `as_of` in the reference's own terms."""
    used = sum((elapsed(hours, s, e) for s, e in spans), timedelta(0))
    limit = timedelta(minutes=limit_minutes)
    ran = [(s, e) for s, e in spans if e > s]
    last = stop if stopped else as_of
    gaps: list[Pause] = [(e, s) for (_, e), (s, _) in zip(ran, ran[1:], strict=False)]
    gaps += [(ran[-1][1], last)] if ran and last > ran[-1][1] else []
    if used >= limit or not paused or stopped:
        due_at = due(hours, ran[0][0] if ran else last, limit_minutes, gaps)
    else:
        due_at = None
    if stopped:
        state = "met" if used <= limit else "breached"
    else:
        state = "breached" if used >= limit else "at_risk" if used * 4 >= limit * 3 else "ok"
    return used // timedelta(microseconds=1), due_at, state


@settings(max_examples=150, deadline=None)
@given(st.lists(tickets(), min_size=1, max_size=6), policies(), st.integers(0, 9000))
def test_the_vectorised_measure_equals_the_ticket_by_ticket_reference(
    given_tickets: list[Ticket], known: dict[Priority, Policy], after: int
) -> None:
    # Given tickets opened by the instant measured
    as_of = START + timedelta(minutes=after)
    opened = [t for t in given_tickets if t.history[0][0] <= as_of]
    if not opened:
        return
    # When measured together
    measured = measure(clocks(opened), known, micros(as_of))
    # Then each ticket is measured as the reference does, alone
    for i, ticket in enumerate(opened):
        expected = reference(ticket, known.get(ticket.priority), as_of)
        if expected is None:
            assert measured.version[i] == 0
            continue
        version, response, resolution, state = expected
        assert int(measured.version[i]) == version
        for got, want in ((measured.first_response, response), (measured.resolution, resolution)):
            shown_due = None if got.due[i] == NO_DUE else moment(int(got.due[i]))
            assert (int(got.elapsed[i]), shown_due, STATES[int(got.state[i])]) == want
        assert STATES[int(measured.state[i])] == state
