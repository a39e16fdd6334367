"""Handlers of lead commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O.

A lead is captured through the sales team (it decides the owner and spots duplicates, and
records that as its own event), so capturing acts on the team and also creates the lead;
the answer names the lead, not the team.
"""

from uuid import UUID, uuid4

from commands.leads import (
    CaptureLead,
    ConvertLead,
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
from domain.lead import Lead, lead_facts
from domain.lead_scoring import AttributeRule, EngagementRule, LeadScoring
from domain.sales_team import SalesRep, SalesTeam
from domain.values import Meta, Personal, Profile


@handles(CaptureLead, SalesTeam)
def capture_lead(
    command: CaptureLead, team: SalesTeam | None, _: UUID, meta: Meta
) -> tuple[SalesTeam, Answer, tuple[Lead]]:
    team = team or SalesTeam.start(meta)
    lead_id = uuid4()
    facts = lead_facts(command.attributes, command.source, command.company)
    intake = team.take_lead(lead_id, command.email, facts, meta)
    lead = Lead.capture(
        lead_id,
        personal=Personal(name=command.name, email=command.email),
        company=command.company,
        source=command.source,
        attributes=command.attributes,
        owner_id=intake.owner_id,
        duplicate_of=intake.duplicate_of,
        rules=command.rules,
        meta=meta,
    )
    answer = {
        "id": str(lead.id),
        "version": lead.version,
        "owner_id": intake.owner_id,
        "duplicate_of": str(intake.duplicate_of) if intake.duplicate_of else None,
        "score": lead.score.points,
    }
    return team, answer, (lead,)


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
    command: ConvertLead, lead: Lead, _: UUID, meta: Meta
) -> tuple[Lead, Answer, tuple[Aggregate, ...]]:
    lead.check_convertible()
    linked = command.linked_customer_id
    customer = None if linked else _customer_of(lead, meta)
    customer_id = linked or customer.id  # type: ignore[union-attr]
    deal = _deal(command, lead, customer_id, meta) if command.deal else None
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


def _deal(command: ConvertLead, lead: Lead, customer_id: UUID, meta: Meta) -> Deal:
    draft, stages = command.deal, command.pipeline
    if draft is None or stages is None:
        raise ValueError("a deal is opened with the pipeline's stages (set by the API)")
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
            stages=stages,
            meta=meta,
        )
    except UnknownStage as error:
        raise InvalidValue("deal.stage", error.detail) from None


@handles(RecordLeadEngagement, Lead)
def record_lead_engagement(
    command: RecordLeadEngagement, lead: Lead, _: UUID, meta: Meta
) -> tuple[Lead, Answer]:
    lead.record_engagement(command.kind, command.rules, meta)
    return lead, {"score": lead.score.points}


@handles(SetScoringRules, LeadScoring)
def set_scoring_rules(
    command: SetScoringRules, scoring: LeadScoring | None, _: UUID, meta: Meta
) -> tuple[LeadScoring, Answer]:
    scoring = scoring or LeadScoring.start(meta)
    scoring.set_rules(
        tuple(AttributeRule.model_validate(r.model_dump()) for r in command.attribute_rules),
        tuple(EngagementRule.model_validate(r.model_dump()) for r in command.engagement_rules),
        meta,
    )
    return scoring, {"rules_version": scoring.rules.version}


@handles(SetSalesReps, SalesTeam)
def set_sales_reps(
    command: SetSalesReps, team: SalesTeam | None, _: UUID, meta: Meta
) -> tuple[SalesTeam, Answer]:
    team = team or SalesTeam.start(meta)
    reps = tuple(SalesRep.model_validate(r.model_dump()) for r in command.reps)
    team.set_reps(reps, command.territory_attribute, meta)
    return team, {}
