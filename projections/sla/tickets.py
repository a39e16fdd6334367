"""The SLA of tickets at query time: a page of tickets (in ticket-id order) in a state, each
with the policy version that applies, its targets, due instants and business time used.

Nothing about time passing is stored: the `sla_clocks` rows and the policies are read, and
the clocks are measured as of the instant asked for (now, by default). Tickets are read and
measured in runs that grow until the page is full, so a page of a common state costs one
short run, and a rare state scans the tickets that can be in it (`CANDIDATES`) once.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np
from psycopg import Connection

from domain.business_time import micros, moment
from domain.ticket import Priority, TicketStatus
from infra import page_cursor as cursor_codec
from projections.sla.measure import (
    NO_DUE,
    PENDING,
    PRIORITIES,
    STATES,
    STATUSES,
    Measures,
    Target,
    measure,
)
from projections.sla.policies import Policy, policies
from projections.sla.ticket_clocks import TicketRun, ticket_run

UNSETTLED = (TicketStatus.OPEN, TicketStatus.PENDING)
CANDIDATES: dict[str | None, tuple[TicketStatus, ...] | None] = {
    None: None,
    "ok": UNSETTLED,
    "at_risk": UNSETTLED,
    "breached": None,
    "met": (TicketStatus.SOLVED, TicketStatus.CLOSED),
}
"""The statuses a ticket may have in each state (None: any), unless it changed since."""
LONGEST_RUN = 25_000


@dataclass(frozen=True)
class Page:
    """A page of tickets' SLA, the instant measured, and the next page's cursor (or None)."""

    as_of: datetime
    items: list[dict[str, Any]]
    next_cursor: str | None


def sla_tickets(
    conn: Connection[Any],
    as_of: datetime,
    state: str | None = None,
    priority: Priority | None = None,
    after: UUID | None = None,
    limit: int = 100,
) -> Page:
    """Tickets after `after` measured against their priority's policy as of `as_of`, in
    `state` if given (tickets of a priority without a policy are not measured)."""
    conn.execute("SET LOCAL jit = off")  # compiling costs more than this query saves
    known = {p: policy for p, policy in policies(conn).items() if priority in (None, p)}
    instant, items = micros(as_of), []
    run_length = limit if state is None else 4 * limit
    while known:
        run = ticket_run(conn, known, CANDIDATES[state], instant, after, run_length)
        measured = measure(run.clocks, known, instant) if len(run) else None
        chosen = _in_state(measured, state)[: limit - len(items)]
        items += [_item(run, measured, int(i), known, instant) for i in chosen]
        if len(items) == limit:
            return Page(as_of, items, cursor_codec.encode(str(items[-1]["ticket_id"])))
        if len(run) < run_length:
            break
        after, run_length = run.ticket_id(len(run) - 1), min(4 * run_length, LONGEST_RUN)
    return Page(as_of, items, None)


def _in_state(measured: Measures | None, state: str | None) -> np.ndarray:
    if measured is None:
        return np.array([], dtype=np.int64)
    wanted = measured.version > 0
    if state is not None:
        wanted &= measured.state == STATES.index(state)
    return np.flatnonzero(wanted)


def _item(
    run: TicketRun, measured: Measures, i: int, known: dict[Priority, Policy], instant: int
) -> dict[str, Any]:
    """One ticket's SLA, as the API shows it."""
    priority = PRIORITIES[int(run.clocks.priority[i])]
    responded = int(run.clocks.first_response[i])
    return {
        "ticket_id": run.ticket_id(i),
        "customer_id": run.customer_id(i),
        "priority": priority.value,
        "status": STATUSES[int(measured.status[i])].value,
        "opened_at": moment(int(measured.opened[i])),
        "policy_id": known[priority].id,
        "policy_version": int(measured.version[i]),
        "state": STATES[int(measured.state[i])],
        "paused": bool(measured.status[i] == PENDING),
        "first_response": _target(measured.first_response, i)
        | {"responded_at": moment(responded) if responded <= instant else None},
        "resolution": _target(measured.resolution, i),
    }


def _target(target: Target, i: int) -> dict[str, Any]:
    due = int(target.due[i])
    return {
        "target_minutes": int(target.minutes[i]),
        "elapsed_seconds": int(target.elapsed[i]) / 1_000_000,
        "due_at": None if due == NO_DUE else moment(due),
        "state": STATES[int(target.state[i])],
    }
