"""The SLA clocks of a run of tickets, read from the `sla_clocks` read model in ticket-id
order, as numpy arrays (`measure.Clocks`).

PostgreSQL filters what it can (priorities with a policy, tickets opened by the instant
measured and within the bounds asked for, statuses that can be in the state asked for, the
page's cursor) and answers with two values: the tickets' fixed-width records, and their
packed status changes, each concatenated in ticket order. numpy reads both as they are: no
Python object per ticket (why, measured: docs/decisions/0004-binary-sla-clocks.md).
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from psycopg import Connection

from domain.business_time import moment
from domain.ticket import Priority, SlaTarget, TicketStatus
from projections.sla.clocks_evolve import CHANGE
from projections.sla.measure import NEVER, PRIORITIES, Clocks

FIRST = UUID(int=0)
TIMESTAMP_EPOCH = 946_684_800_000_000
"""PostgreSQL's timestamps count µs from 2000-01-01: that instant, in µs from 1970-01-01."""

QUERY = """
SELECT
    string_agg(uuid_send(ticket_id) || uuid_send(customer_id)
        || int2send((array_position(%(priorities)s::text[], priority) - 1)::int2)
        || timestamptz_send(coalesce(first_response_at, 'infinity'))
        || int4send(length(changes) / %(change_size)s)
        || int2send((('first_response' = ANY(breaches))::int
            + 2 * ('resolution' = ANY(breaches))::int)::int2), ''::bytea ORDER BY ticket_id),
    string_agg(changes, ''::bytea ORDER BY ticket_id)
FROM (
    SELECT ticket_id, customer_id, priority, first_response_at, changes, breaches
    FROM sla_clocks
    WHERE priority = ANY(%(measured)s::text[])
        AND ticket_id > %(after)s
        AND (%(customer)s::uuid IS NULL OR customer_id = %(customer)s)
        AND opened_at BETWEEN %(since)s AND %(until)s
        AND (%(only)s::text[] IS NULL OR status = ANY(%(only)s::text[]) OR updated_at > %(as_of)s)
        AND (NOT %(unrecorded)s OR cardinality(breaches) < 2)
    ORDER BY ticket_id
    LIMIT %(limit)s
) AS chosen
"""
"""`until`: the last opening instant counted (`as_of`, or an earlier bound); `only`: the
statuses a ticket may have now (NULL: any), unless it changed after `as_of`; `unrecorded`:
only tickets that have not recorded the breach of both targets."""

TICKET = np.dtype(
    [("ticket_id", "V16"), ("customer_id", "V16"), ("priority", ">i2"),
     ("first_response", ">i8"), ("changes", ">i4"), ("recorded", ">i2")]
)  # fmt: skip
"""A ticket's record: ids, priority (index in `Priority`), first agent reply (PostgreSQL
µs, 'infinity' if none), how many status changes it has, and the breaches it recorded
(RECORDED bits)."""
RECORDED = {SlaTarget.FIRST_RESPONSE: 1, SlaTarget.RESOLUTION: 2}
CHANGES = np.dtype([("at", ">i8"), ("status", ">i2")])
"""A status change, packed as `clocks_evolve.CHANGE` packs it."""


@dataclass(frozen=True)
class TicketRun:
    """Tickets in id order: their ids, their customers' and their clocks."""

    ids: npt.NDArray[np.void]
    customers: npt.NDArray[np.void]
    recorded: npt.NDArray[np.int64]
    clocks: Clocks

    def __len__(self) -> int:
        return len(self.ids)

    def ticket_id(self, index: int) -> UUID:
        return UUID(bytes=self.ids[index].tobytes())

    def customer_id(self, index: int) -> UUID:
        return UUID(bytes=self.customers[index].tobytes())


def ticket_run(
    conn: Connection[Any],
    priorities: Collection[Priority],
    only: Collection[TicketStatus] | None,
    as_of: int,
    after: UUID | None,
    limit: int,
    since: int = 0,
    unrecorded: bool = False,
    until: int | None = None,
    customer: UUID | None = None,
) -> TicketRun:
    """Up to `limit` tickets of the given priorities after `after`, opened between `since`
    and `as_of` (and by `until`, if given; both bounds included), whose status is one of
    `only` (if given) or changed after `as_of` (and, if `unrecorded`, that have not recorded
    both targets' breach), of `customer` only if given."""
    params = {
        "priorities": list(PRIORITIES),
        "change_size": CHANGE.size,
        "measured": [p.value for p in priorities],
        "only": None if only is None else [s.value for s in only],
        "after": after or FIRST,
        "customer": customer,
        "as_of": moment(as_of),
        "since": moment(since),
        "until": moment(as_of if until is None else min(as_of, until)),
        "unrecorded": unrecorded,
        "limit": limit,
    }
    with conn.cursor(binary=True) as cur:
        tickets, changes = cur.execute(QUERY, params).fetchone() or (None, None)
    records = np.frombuffer(tickets or b"", TICKET)
    packed = np.frombuffer(changes or b"", CHANGES)
    first = records["first_response"].astype(np.int64)
    clocks = Clocks(
        priority=records["priority"].astype(np.int64),
        first_response=np.where(first == NEVER, NEVER, first + TIMESTAMP_EPOCH),
        ticket=np.repeat(np.arange(len(records), dtype=np.int64), records["changes"]),
        at=packed["at"].astype(np.int64),
        status=packed["status"].astype(np.int64),
    )
    recorded = records["recorded"].astype(np.int64)
    return TicketRun(records["ticket_id"], records["customer_id"], recorded, clocks)
