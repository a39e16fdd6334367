"""Builders for lead unit tests: a lead command run as the command bus runs it, with the
configuration it consults (scoring rules, sales team, pipeline) given as stored."""

from typing import Any

from commands.base import Command
from commands.handling import Lookups
from commands.leads import CaptureLead, QualifyLead
from domain.aggregate import Aggregate
from domain.lead import Lead
from domain.lead_scoring import AttributeRule, EngagementRule, LeadScoring
from domain.sales_team import SalesRep, SalesTeam
from tests.unit.builders import META
from tests.unit.handling import handle


def send(
    command: Command,
    aggregate: Aggregate | None,
    *stored: Aggregate,
    lookups: Lookups | None = None,
) -> Any:
    """Runs a command's handler the way the command bus does: on `aggregate` (None: a new
    one), given those of the `stored` aggregates that the command consults or requires.
    Returns (aggregate, answer, the aggregates started besides)."""
    decision = handle(command, aggregate, *stored, lookups=lookups)
    return decision.aggregate, decision.answer, decision.created


def capture(*stored: Aggregate, **fields: Any) -> tuple[Lead, dict[str, Any]]:
    """A lead captured as Grace (grace@example.com), with the `stored` configuration."""
    given = {"name": "Grace", "email": "grace@example.com"} | fields
    lead, answer, _ = send(CaptureLead(**given), None, *stored)
    return lead, answer


def qualified(*stored: Aggregate, **fields: Any) -> Lead:
    """A qualified lead of Navy Labs, from a webinar."""
    lead, _ = capture(*stored, **({"company": "Navy Labs", "source": "webinar"} | fields))
    send(QualifyLead(), lead)
    return lead


def scoring(
    *attribute_rules: AttributeRule, engagement: tuple[EngagementRule, ...] = ()
) -> LeadScoring:
    """Lead scoring with these rules in force (rules version 1)."""
    built = LeadScoring.start(META)
    built.set_rules(attribute_rules, engagement, META)
    return built


def rep(rep_id: str, *territories: str, active: bool = True) -> SalesRep:
    """A rep named after their id."""
    return SalesRep(id=rep_id, name=rep_id.title(), active=active, territories=territories)


def team(*reps: SalesRep, territory_attribute: str = "country") -> SalesTeam:
    """A sales team with these reps."""
    built = SalesTeam.start(META)
    built.set_reps(reps, territory_attribute, META)
    return built
