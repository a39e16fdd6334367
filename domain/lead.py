"""The Lead aggregate: someone who may buy, scored, owned by a rep, and qualified,
disqualified or converted into a customer.

Statuses: new -> qualified or disqualified, either way again (a lead may come back), and
qualified -> converted, which is final. A lead's score is recorded (`Scored`) whenever it
changes: at capture and on each engagement, by the rules in force then. Name and email are
personal data and sit in the `personal` group of the captured event.
"""

from collections.abc import Mapping
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import CrmError
from domain.lead_scoring import EngagementKind, Score, ScoringRules, score
from domain.sales_team import Intake
from domain.values import CustomValue, Meta, Personal, Value


class LeadStatus(StrEnum):
    """Where a lead stands."""

    NEW = "new"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


class LeadConverted(CrmError):
    """The lead is converted: it changes no more."""

    rule = "lead-converted"


class LeadDisqualified(CrmError):
    """A disqualified lead cannot be converted; qualify it first."""

    rule = "lead-disqualified"


class LeadNotQualified(CrmError):
    """Only a qualified lead can be converted."""

    rule = "lead-not-qualified"


def engaged(engagement: Mapping[str, int], kind: str) -> dict[str, int]:
    """A lead's engagement counts by kind, after one more engagement of `kind`."""
    return {**engagement, kind: engagement.get(kind, 0) + 1}


def lead_facts(
    attributes: dict[str, CustomValue], source: str | None, company: str | None
) -> dict[str, CustomValue]:
    """What scoring rules and territories look at: the attributes, and the source and
    company (which win over attributes of the same name)."""
    given = {"source": source, "company": company}
    return attributes | {k: v for k, v in given.items() if v is not None}


class Prospect(Value):
    """Who a lead is, as captured: name and email (personal data), company, source and
    attributes."""

    personal: Personal
    company: str | None = None
    source: str | None = None
    attributes: dict[str, CustomValue] = {}

    @property
    def facts(self) -> dict[str, CustomValue]:
        """What scoring rules and territories look at (see `lead_facts`)."""
        return lead_facts(self.attributes, self.source, self.company)


class Lead(Aggregate):
    """A prospective customer, from capture to conversion. It holds what its rules decide
    on: who the lead is (what it is scored by, and converted into), its owner, status,
    engagement and score, and the customer it was converted into (the writer links its stream
    to that customer's timeline); the rest (the earlier lead it duplicates, when it was
    captured, the deal of its conversion) is in the leads read model."""

    id: UUID

    @classmethod
    def capture(
        cls, lead_id: UUID, prospect: Prospect, intake: Intake, rules: ScoringRules, meta: Meta
    ) -> "Lead":
        """Captures a lead (attributes without a value left out) with the sales team's
        `intake`, its owner and the earlier lead with its email, and scores it by `rules`."""
        lead = cls(
            id=lead_id,
            personal=prospect.personal,
            company=prospect.company,
            source=prospect.source,
            attributes={k: v for k, v in prospect.attributes.items() if v is not None},
            owner_id=intake.owner_id,
            duplicate_of=intake.duplicate_of,
            meta=meta,
        )
        lead._rescore(rules, meta)
        return lead

    @event("Captured")
    def __init__(
        self,
        personal: Personal,
        company: str | None,
        source: str | None,
        attributes: dict[str, CustomValue],
        owner_id: str | None,
        duplicate_of: UUID | None,
        meta: Meta,
    ) -> None:
        self.personal = personal
        self.company = company
        self.source = source
        self.attributes = dict(attributes)
        self.owner_id = owner_id
        self.status = LeadStatus.NEW
        self.engagement: dict[str, int] = {}
        self.score = Score()
        self.disqualified_reason: str | None = None
        self.customer_id: UUID | None = None

    @property
    def facts(self) -> dict[str, CustomValue]:
        """What scoring rules look at (see `lead_facts`)."""
        return lead_facts(self.attributes, self.source, self.company)

    def qualify(self, meta: Meta) -> None:
        """Marks the lead qualified; a qualified lead records nothing."""
        self._refuse_if_converted("qualified")
        if self.status != LeadStatus.QUALIFIED:
            self._qualify(meta)

    @event("Qualified")
    def _qualify(self, meta: Meta) -> None:
        self.status = LeadStatus.QUALIFIED
        self.disqualified_reason = None

    def disqualify(self, reason: str, meta: Meta) -> None:
        """Marks the lead disqualified for a reason; the same reason again records nothing."""
        self._refuse_if_converted("disqualified")
        if (self.status, self.disqualified_reason) != (LeadStatus.DISQUALIFIED, reason):
            self._disqualify(reason, meta)

    @event("Disqualified")
    def _disqualify(self, reason: str, meta: Meta) -> None:
        self.status = LeadStatus.DISQUALIFIED
        self.disqualified_reason = reason

    def check_convertible(self) -> None:
        """Refuses unless the lead is qualified (and so not converted yet)."""
        self._refuse_if_converted("converted again")
        if self.status == LeadStatus.DISQUALIFIED:
            raise LeadDisqualified("the lead is disqualified; qualify it before converting it")
        if self.status != LeadStatus.QUALIFIED:
            raise LeadNotQualified(f"the lead is {self.status}; qualify it before converting it")

    def convert(
        self, customer_id: UUID, customer_created: bool, deal_id: UUID | None, meta: Meta
    ) -> None:
        """Converts a qualified lead into a customer (created or linked), maybe with a deal."""
        self.check_convertible()
        self._convert(customer_id, customer_created, deal_id, meta)

    @event("Converted")
    def _convert(
        self, converted_to: UUID, customer_created: bool, deal_id: UUID | None, meta: Meta
    ) -> None:
        # `converted_to`, not `customer_id`: an event's `customer_id` field makes it the
        # customer's (domain.events.envelope), and so keys its Kafka message (consumers.relay).
        # This event would go out under the customer's key, to another partition than the
        # lead's other events, which could then be read before it.
        self.status = LeadStatus.CONVERTED
        self.customer_id = converted_to

    def record_engagement(self, kind: EngagementKind, rules: ScoringRules, meta: Meta) -> None:
        """Records an email open or click, and scores the lead again by `rules`."""
        self._refuse_if_converted("engaged")
        self._record_engagement(kind, meta)
        self._rescore(rules, meta)

    @event("EngagementRecorded")
    def _record_engagement(self, kind: EngagementKind, meta: Meta) -> None:
        self.engagement = engaged(self.engagement, kind)

    def _rescore(self, rules: ScoringRules, meta: Meta) -> None:
        new = score(rules, self.facts, self.engagement)
        if new != self.score:
            self._scored(new, meta)

    @event("Scored")
    def _scored(self, score: Score, meta: Meta) -> None:
        self.score = score

    def _refuse_if_converted(self, change: str) -> None:
        if self.status == LeadStatus.CONVERTED:
            raise LeadConverted(f"the lead is converted; it cannot be {change}")
