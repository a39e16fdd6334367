"""The SLA breach recorder: a process manager of `crm automate` that records each breach of
a ticket's SLA target once, as `Ticket.SlaBreached`, so that automation can react to it.

A breach happens when nothing happens (time passes a due instant), so this manager follows
the clock, not the event store: every `EVERY_SECONDS` it measures the tickets that have not
recorded both breaches yet (`projections.sla.breaches`) and records what it finds, at its due
time (`occurred_at`). The ticket records a target's breach once, so a breach found twice
(the read model had not caught up yet, a crash before it did) records nothing the second time.

How late a breach is recorded, at most: the looks start `EVERY_SECONDS` apart (20 s), plus
the tick of its thread in `crm automate` (1 s), plus one look (under a second for 100,000
tickets, docs/benchmarks.md): about 22 s, whatever the other process managers are doing (the
recorder has a thread of its own: a campaign being sent does not hold it).
"""

import time
from collections.abc import Callable
from concurrent.futures import wait
from datetime import UTC, datetime

import structlog

from commands.context import CommandContext, Target
from commands.sla import RecordSlaBreach
from consumers.parts import WriteSide
from domain.errors import CrmError
from projections.sla.breaches import Breach, unrecorded_breaches

log = structlog.get_logger()

ACTOR = "crm-automate"
EVERY_SECONDS = 20.0
"""From the start of one look to the start of the next."""
SOON_SECONDS = 1.0
"""The wait before the next batch when a batch was full."""
BATCH = 1000


class SlaBreachRecorder:
    """Records breaches not yet recorded, a batch at a time, every EVERY_SECONDS."""

    def __init__(self, container: WriteSide, clock: Callable[[], float] = time.monotonic) -> None:
        self._pool, self._bus, self._clock = container.pool, container.bus, clock
        self._next = 0.0

    def step(self) -> bool:
        """Records the breaches found, if it is time to look; False: nothing more to do now."""
        started = self._clock()
        if started < self._next:
            return False
        with self._pool.connection() as conn:
            found = unrecorded_breaches(conn, datetime.now(UTC), BATCH)
        answers = [self._bus.submit(Target(b.ticket_id), _command(b), _context(b)) for b in found]
        wait(answers)
        for answer in answers:
            try:
                answer.result()
            except CrmError as refusal:  # the ticket's rule, not an outage
                log.info("sla breach refused", reason=str(refusal))
        full = len(found) == BATCH
        self._next = self._clock() + SOON_SECONDS if full else started + EVERY_SECONDS
        if found:
            log.info("sla breaches recorded", count=len(found))
        return False


def _command(breach: Breach) -> RecordSlaBreach:
    return RecordSlaBreach(
        target=breach.target, policy_version=breach.policy_version, occurred_at=breach.due_at
    )


def _context(breach: Breach) -> CommandContext:
    return CommandContext(
        actor=ACTOR,
        correlation_id=f"sla-breach:{breach.ticket_id}:{breach.target.value}",
        received_at=datetime.now(UTC),
    )
