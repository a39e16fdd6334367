"""Handlers of lead commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O.

What a lead is decided with is consulted (see `commands.leads`) and given as `required`:
the scoring rules in force, the sales team, the pipeline. Capturing a lead also records
its intake on the sales team (whose turn it was, the email's digest): the writer saves
the team's events with the lead's. Configuration not set yet is used as started: no
scoring rule, no rep, the default stages.
"""

from collections.abc import Iterable
from typing import TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel

from commands.leads import (
    CaptureLead,
    ConvertLead,
    DealDraft,
    DisqualifyLead,
    QualifyLead,
    RecordLeadEngagement,
    SetSalesReps,
    SetScoringRules,
)
from commands.registry import Answer, handles
from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.deal import Deal, UnknownStage
from domain.errors import InvalidValue
from domain.lead import Lead, Prospect
from domain.lead_scoring import (
    LEAD_SCORING_ID,
    AttributeRule,
    EngagementRule,
    LeadScoring,
    ScoringRules,
)
from domain.pipeline import PIPELINE_ID, stages_of
from domain.sales_team import SALES_TEAM_ID, SalesRep, SalesTeam
from domain.values import Meta, Personal, Profile, Value

Given = dict[UUID, Aggregate]
"""The consulted aggregates that exist, by id."""
V = TypeVar("V", bound=Value)


@handles(CaptureLead, Lead)
def capture_lead(
    command: CaptureLead, _: None, lead_id: UUID, meta: Meta, required: Given
) -> tuple[Lead, Answer, tuple[SalesTeam, ...]]:
    found = required.get(SALES_TEAM_ID)
    team = found if isinstance(found, SalesTeam) else SalesTeam.start(meta)
    prospect = Prospect(
        personal=Personal(name=command.name, email=command.email),
        company=command.company,
        source=command.source,
        attributes=command.attributes,
    )
    intake = team.take_lead(lead_id, command.email, prospect.facts, meta)
    lead = Lead.capture(lead_id, prospect, intake, _rules(required), meta)
    answer = {
        "owner_id": intake.owner_id,
        "duplicate_of": str(intake.duplicate_of) if intake.duplicate_of else None,
        "score": lead.score.points,
    }
    return lead, answer, () if team is found else (team,)


@handles(QualifyLead, Lead)
def qualify_lead(_: QualifyLead, lead: Lead, __: UUID, meta: Meta) -> tuple[Lead, Answer]:
    lead.qualify(meta)
    return lead, {"status": lead.status}


@handles(DisqualifyLead, Lead)
def disqualify_lead(
    command: DisqualifyLead, lead: Lead, _: UUID, meta: Meta
) -> tuple[Lead, Answer]:
    lead.disqualify(command.reason, meta)
    return lead, {"status": lead.status}


@handles(ConvertLead, Lead)
def convert_lead(
    command: ConvertLead, lead: Lead, _: UUID, meta: Meta, required: Given
) -> tuple[Lead, Answer, tuple[Aggregate, ...]]:
    lead.check_convertible()
    linked = command.linked_customer_id
    customer = None if linked else _customer_of(lead, meta)
    customer_id = linked or customer.id  # type: ignore[union-attr]
    deal = _deal(command.deal, lead, customer_id, required, meta) if command.deal else None
    lead.convert(customer_id, customer is not None, deal.id if deal else None, meta)
    answer = {
        "customer_id": str(customer_id),
        "customer_created": customer is not None,
        "deal_id": str(deal.id) if deal else None,
    }
    return lead, answer, tuple(a for a in (customer, deal) if a is not None)


def _customer_of(lead: Lead, meta: Meta) -> Customer:
    """A new customer with the lead's name and email, company and source; no consent yet."""
    return Customer.register(
        uuid4(),
        external_ref=None,
        personal=Personal(name=lead.personal.name, email=lead.personal.email),
        profile=Profile(source=lead.source),
        tags=(),
        custom_fields={"company": lead.company} if lead.company else {},
        consent={},
        meta=meta,
    )


def _deal(draft: DealDraft, lead: Lead, customer_id: UUID, required: Given, meta: Meta) -> Deal:
    """The deal of a conversion, owned by the lead's owner unless the draft names one, in
    a stage of the pipeline: one that is not open refuses the whole conversion (422 naming
    `deal.stage`)."""
    try:
        return Deal.open(
            uuid4(),
            customer_id=customer_id,
            title=draft.title,
            amount=draft.amount,
            currency=str(draft.currency),
            stage=draft.stage,
            expected_close_date=draft.expected_close_date,
            owner=draft.owner or lead.owner_id,
            stages=stages_of(required.get(PIPELINE_ID)),
            meta=meta,
        )
    except UnknownStage as error:
        raise InvalidValue("deal.stage", error.detail) from None


@handles(RecordLeadEngagement, Lead)
def record_lead_engagement(
    command: RecordLeadEngagement, lead: Lead, _: UUID, meta: Meta, required: Given
) -> tuple[Lead, Answer]:
    lead.record_engagement(command.kind, _rules(required), meta)
    return lead, {"score": lead.score.points}


@handles(SetScoringRules, LeadScoring)
def set_scoring_rules(
    command: SetScoringRules, scoring: LeadScoring | None, _: UUID, meta: Meta
) -> tuple[LeadScoring, Answer]:
    scoring = scoring or LeadScoring.start(meta)
    attribute_rules = _values(AttributeRule, command.attribute_rules)
    scoring.set_rules(attribute_rules, _values(EngagementRule, command.engagement_rules), meta)
    return scoring, {"rules_version": scoring.rules.version}


@handles(SetSalesReps, SalesTeam)
def set_sales_reps(
    command: SetSalesReps, team: SalesTeam | None, _: UUID, meta: Meta
) -> tuple[SalesTeam, Answer]:
    team = team or SalesTeam.start(meta)
    team.set_reps(_values(SalesRep, command.reps), command.territory_attribute, meta)
    return team, {}


def _rules(required: Given) -> ScoringRules:
    """The scoring rules in force (none before they are first set)."""
    scoring = required.get(LEAD_SCORING_ID)
    return scoring.rules if isinstance(scoring, LeadScoring) else ScoringRules()


def _values(kind: type[V], settings: Iterable[BaseModel]) -> tuple[V, ...]:
    """Settings from a command as the domain's values."""
    return tuple(kind.model_validate(setting.model_dump()) for setting in settings)
