"""Every event type the CRM records: its stable name, payload model, schema version and
personal-data fields. The name is the aggregate's event class (`Customer.PurchaseRecorded`):
it is the envelope's `type`, and the stored topic ends with it."""

from dataclasses import dataclass, field

from domain.aggregate import Aggregate
from domain.campaign import Campaign
from domain.custom_fields import CustomFieldSchema
from domain.customer import Customer
from domain.deal import Deal
from domain.events.payload import Payload, personal_fields
from domain.events.payloads import (
    campaign,
    custom_fields,
    customer,
    deal,
    lead,
    lead_scoring,
    pipeline,
    sales_team,
    segment,
    sla_policy,
    ticket,
)
from domain.lead import Lead
from domain.lead_scoring import LeadScoring
from domain.pipeline import Pipeline
from domain.sales_team import SalesTeam
from domain.segment import Segment
from domain.sla_policy import SlaPolicy
from domain.ticket import Ticket


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One event type: an aggregate's event and the model of its `data`."""

    aggregate: type[Aggregate]
    payload: type[Payload]
    name: str = field(init=False)
    """The stable type name, `Aggregate.Event`: the envelope's `type`."""
    schema_version: int = field(init=False)
    personal_fields: tuple[str, ...] = field(init=False)
    """The payload's fields annotated as personal data."""
    kind: tuple[type[Payload], type[Aggregate]] = field(init=False, repr=False)
    """(payload, aggregate): what an envelope of this type dispatches on."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.aggregate.__name__}.{self.payload.__name__}")
        object.__setattr__(self, "schema_version", self.payload.schema_version)
        object.__setattr__(self, "personal_fields", personal_fields(self.payload))
        object.__setattr__(self, "kind", (self.payload, self.aggregate))

    @property
    def description(self) -> str:
        """What the event records (the payload's docstring)."""
        return " ".join((self.payload.__doc__ or "").split())


def _of(aggregate: type[Aggregate], *payloads: type[Payload]) -> tuple[EventEntry, ...]:
    return tuple(EventEntry(aggregate, payload) for payload in payloads)


CATALOGUE: tuple[EventEntry, ...] = (
    *_of(
        Customer,
        customer.Registered,
        customer.ProfileChanged,
        customer.TagsChanged,
        customer.ConsentChanged,
        customer.InteractionLogged,
        customer.PurchaseRecorded,
        customer.FeedbackGiven,
        customer.EmailSent,
        customer.EmailSuppressed,
        customer.EmailOpened,
        customer.EmailClicked,
        customer.EmailBounced,
        customer.Erased,
    ),
    *_of(
        Ticket,
        ticket.Opened,
        ticket.Replied,
        ticket.StatusChanged,
        ticket.SatisfactionRated,
        ticket.SlaBreached,
    ),
    *_of(
        Deal,
        deal.Opened,
        deal.StageMoved,
        deal.AmountChanged,
        deal.Won,
        deal.Lost,
        deal.Reopened,
    ),
    *_of(
        Lead,
        lead.Captured,
        lead.Qualified,
        lead.Disqualified,
        lead.Converted,
        lead.EngagementRecorded,
        lead.Scored,
    ),
    *_of(
        Campaign,
        campaign.Drafted,
        campaign.RecipientsAdded,
        campaign.SendRequested,
        campaign.Completed,
    ),
    *_of(Segment, segment.Defined, segment.Redefined),
    *_of(Pipeline, pipeline.Created, pipeline.StagesConfigured),
    *_of(LeadScoring, lead_scoring.Started, lead_scoring.RulesSet),
    *_of(SalesTeam, sales_team.Started, sales_team.RepsSet, sales_team.LeadTaken),
    *_of(CustomFieldSchema, custom_fields.Started, custom_fields.FieldDefined),
    *_of(SlaPolicy, sla_policy.Defined, sla_policy.Changed),
)
"""Every event type, by aggregate, in the order each aggregate records them."""

BY_NAME: dict[str, EventEntry] = {entry.name: entry for entry in CATALOGUE}
"""The catalogue by type name (`Envelope.type`)."""
BY_PAYLOAD: dict[type[Payload], EventEntry] = {entry.payload: entry for entry in CATALOGUE}
"""The catalogue by payload model (`Envelope.payload_type`)."""
AGGREGATES: dict[str, type[Aggregate]] = {
    entry.aggregate.__name__: entry.aggregate for entry in CATALOGUE
}
"""The aggregates by name."""


def aggregate_of(name: str) -> type[Aggregate] | None:
    """The aggregate a type name's first part names, whether the type is catalogued or not."""
    return AGGREGATES.get(name.partition(".")[0])
