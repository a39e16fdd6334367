"""Lead engagement: a process manager of `crm automate` that scores leads on what their
people do with our emails.

Campaigns go to customers; a lead is a person sales has not won yet, and the same person
may be both. When a customer opens a campaign email (a person's open: machine opens say
nothing about interest) or clicks one of its links, each open lead with that customer's
email address (neither converted nor disqualified) is recorded as engaged
(`RecordLeadEngagement`), which scores it again by the rules in force.

Each engagement goes with an Idempotency-Key made of the event and the lead: after a crash
between recording engagements and saving the position, the repeats record nothing, so no
open is counted twice. A lead converted in between refuses, which is its rule, not a fault.
"""

from concurrent.futures import Future, wait
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from commands.context import CommandContext, Outcome, Target
from commands.leads import RecordLeadEngagement
from consumers import automation_records as records
from consumers.parts import WriteSide
from domain.customer import Customer
from domain.errors import CrmError
from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads.customer import EmailClicked, EmailOpened
from domain.lead_scoring import EngagementKind
from infra.stored_events import head, with_topics
from projections.customer_360 import queries as customer_360
from projections.leads import queries as leads

log = structlog.get_logger()

NAME = "lead-engagement"
ACTOR = "crm-automate"
KINDS: dict[type[Payload], EngagementKind] = {
    EmailOpened: EngagementKind.EMAIL_OPENED,
    EmailClicked: EngagementKind.EMAIL_CLICKED,
}
TOPICS = [get_topic(Customer.EmailOpened), get_topic(Customer.EmailClicked)]
BATCH = 500


class LeadEngagement:
    """Records the engagement of open leads whose email a customer's open or click shares."""

    def __init__(self, container: WriteSide) -> None:
        self._pool, self._bus = container.pool, container.bus
        self.position = records.position(self._pool, NAME)

    def step(self) -> bool:
        """Handles the opens and clicks since the recorded position, a batch at a time;
        False when none is left."""
        with self._pool.connection() as conn:
            until = head(conn)
            events = with_topics(conn, self.position, until, TOPICS, BATCH)
            people = [e for e in events if not e.data.get("machine")]
            engaged = self._leads_of(conn, people)
        answers = [
            self._bus.submit(Target(lead_id), _engagement(event), _context(event, lead_id))
            for event in people
            for lead_id in engaged.get(event.customer_id or "", [])
        ]
        wait(answers)
        _raise_faults(answers)
        more = len(events) == BATCH
        done = events[-1].position if more else until
        if done > self.position:
            records.record_position(self._pool, NAME, done)
            self.position = done
        return more

    @staticmethod
    def _leads_of(conn: Any, events: list[Envelope]) -> dict[str, list[UUID]]:
        """The open leads sharing each customer's email, by customer id."""
        ids = list({UUID(e.customer_id) for e in events if e.customer_id})
        addresses = customer_360.emails(conn, ids) if ids else {}
        return {
            str(customer_id): found
            for customer_id, email in addresses.items()
            if (found := leads.open_leads_with_email(conn, email))
        }


def _engagement(event: Envelope) -> RecordLeadEngagement:
    return RecordLeadEngagement(kind=KINDS[event.payload_type], occurred_at=event.occurred_at)


def _context(event: Envelope, lead_id: UUID) -> CommandContext:
    return CommandContext(
        actor=ACTOR,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        idempotency_key=f"{NAME}:{event.event_id}:{lead_id}",
        received_at=datetime.now(UTC),
    )


def _raise_faults(answers: list["Future[Outcome]"]) -> None:
    """Raises the first fault (an outage: the batch is handled again); a lead's refusal is
    its rule (it was converted meanwhile) and is only logged."""
    for answer in answers:
        try:
            answer.result()
        except CrmError as refusal:
            log.info("lead engagement refused", reason=str(refusal))
