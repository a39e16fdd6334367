"""Handlers of lead commands (see `commands.handling`).

What a lead is decided with is consulted (see `commands.leads`) and given on `ctx`: the
scoring rules in force, the sales team, the pipeline. Capturing a lead also records
its intake on the sales team (whose turn it was, the email's digest): the writer saves
the team's events with the lead's. Configuration not set yet is used as started: no
scoring rule, no rep, the default stages.
"""

from collections.abc import Iterable
from typing import TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel

from commands.handling import Decide, Decision
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

V = TypeVar("V", bound=Value)


def capture_lead(command: CaptureLead, ctx: Decide[Lead]) -> Decision:
    found = ctx.consulted(SALES_TEAM_ID, SalesTeam)
    team = found or SalesTeam.start(ctx.meta)
    prospect = Prospect(
        personal=Personal(name=command.name, email=command.email),
        company=command.company,
        source=command.source,
        attributes=command.attributes,
    )
    intake = team.take_lead(ctx.target_id, command.email, prospect.facts, ctx.meta)
    lead = Lead.capture(ctx.target_id, prospect, intake, _rules(ctx), ctx.meta)
    answer = {
        "owner_id": intake.owner_id,
        "duplicate_of": str(intake.duplicate_of) if intake.duplicate_of else None,
        "score": lead.score.points,
    }
    return Decision(lead, answer, () if team is found else (team,))


def qualify_lead(_: QualifyLead, ctx: Decide[Lead]) -> Decision:
    ctx.aggregate.qualify(ctx.meta)
    return Decision(ctx.aggregate, {"status": ctx.aggregate.status})


def disqualify_lead(command: DisqualifyLead, ctx: Decide[Lead]) -> Decision:
    ctx.aggregate.disqualify(command.reason, ctx.meta)
    return Decision(ctx.aggregate, {"status": ctx.aggregate.status})


def convert_lead(command: ConvertLead, ctx: Decide[Lead]) -> Decision:
    """Links the lead to the customer given, else to the customer with the lead's email
    (looked up in the writer), else to a new customer; maybe with a deal."""
    lead, meta = ctx.aggregate, ctx.meta
    lead.check_convertible()
    email = lead.personal.email
    linked = command.customer_id or (ctx.lookups.customer_with_email(email) if email else None)
    customer = None if linked else _customer_of(lead, meta)
    customer_id = linked or customer.id  # type: ignore[union-attr]
    deal = _deal(command.deal, lead, customer_id, ctx) if command.deal else None
    lead.convert(customer_id, customer is not None, deal.id if deal else None, meta)
    answer = {
        "customer_id": str(customer_id),
        "customer_created": customer is not None,
        "deal_id": str(deal.id) if deal else None,
    }
    return Decision(lead, answer, tuple(a for a in (customer, deal) if a is not None))


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


def _deal(draft: DealDraft, lead: Lead, customer_id: UUID, ctx: Decide[Lead]) -> Deal:
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
            stages=stages_of(ctx.given.get(PIPELINE_ID)),
            meta=ctx.meta,
        )
    except UnknownStage as error:
        raise InvalidValue("deal.stage", error.detail) from None


def record_lead_engagement(command: RecordLeadEngagement, ctx: Decide[Lead]) -> Decision:
    ctx.aggregate.record_engagement(command.kind, _rules(ctx), ctx.meta)
    return Decision(ctx.aggregate, {"score": ctx.aggregate.score.points})


def set_scoring_rules(command: SetScoringRules, ctx: Decide[LeadScoring]) -> Decision:
    scoring = ctx.current or LeadScoring.start(ctx.meta)
    attribute_rules = _values(AttributeRule, command.attribute_rules)
    engagement_rules = _values(EngagementRule, command.engagement_rules)
    scoring.set_rules(attribute_rules, engagement_rules, ctx.meta)
    return Decision(scoring, {"rules_version": scoring.rules.version})


def set_sales_reps(command: SetSalesReps, ctx: Decide[SalesTeam]) -> Decision:
    team = ctx.current or SalesTeam.start(ctx.meta)
    team.set_reps(_values(SalesRep, command.reps), command.territory_attribute, ctx.meta)
    return Decision(team)


def _rules(ctx: Decide[Lead]) -> ScoringRules:
    """The scoring rules in force (none before they are first set)."""
    scoring = ctx.consulted(LEAD_SCORING_ID, LeadScoring)
    return scoring.rules if scoring is not None else ScoringRules()


def _values(kind: type[V], settings: Iterable[BaseModel]) -> tuple[V, ...]:
    """Settings from a command as the domain's values."""
    return tuple(kind.model_validate(setting.model_dump()) for setting in settings)
