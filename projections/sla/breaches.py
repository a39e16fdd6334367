"""SLA targets breached by now whose breach the ticket has not recorded yet: what the breach
recorder of `crm automate` records, once per ticket and target."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np
from psycopg import Connection

from domain.business_time import micros, moment
from domain.ticket import SlaTarget
from projections.sla.measure import BREACHED, Measures, measure
from projections.sla.policies import policies
from projections.sla.ticket_clocks import RECORDED, TicketRun, ticket_run
from projections.sla.tickets import LONGEST_RUN


@dataclass(frozen=True)
class Breach:
    """A ticket's target breached at `due_at`, under a policy version."""

    ticket_id: UUID
    target: SlaTarget
    due_at: datetime
    policy_version: int


def unrecorded_breaches(conn: Connection[Any], as_of: datetime, limit: int) -> list[Breach]:
    """Up to `limit` targets breached by `as_of` that their tickets have not recorded, in
    ticket-id order."""
    conn.execute("SET LOCAL jit = off")
    known = policies(conn)
    instant, after, found = micros(as_of), None, []
    while known and len(found) < limit:
        run = ticket_run(conn, known, None, instant, after, LONGEST_RUN, unrecorded=True)
        if len(run):
            found += _breaches(run, measure(run.clocks, known, instant))
        if len(run) < LONGEST_RUN:
            break
        after = run.ticket_id(len(run) - 1)
    return found[:limit]


def _breaches(run: TicketRun, measured: Measures) -> list[Breach]:
    targets = {
        SlaTarget.FIRST_RESPONSE: measured.first_response,
        SlaTarget.RESOLUTION: measured.resolution,
    }
    found = [
        (int(i), target, int(measured_target.due[i]))
        for target, measured_target in targets.items()
        for i in np.flatnonzero(
            (measured.version > 0)
            & (measured_target.state == BREACHED)
            & (run.recorded & RECORDED[target] == 0)
        )
    ]
    return [
        Breach(run.ticket_id(i), target, moment(due), int(measured.version[i]))
        for i, target, due in sorted(found, key=lambda each: each[0])
    ]
