"""A lead's rules, through the command handlers as the command bus runs them."""

from decimal import Decimal
from uuid import uuid4

import pytest

from commands.catalog import HANDLERS
from commands.leads import (
    CaptureLead,
    ConvertLead,
    DealDraft,
    DisqualifyLead,
    QualifyLead,
    RecordLeadEngagement,
)
from domain.customer import Customer
from domain.deal import Deal
from domain.errors import InvalidValue
from domain.lead import Lead, LeadConverted, LeadDisqualified, LeadNotQualified, LeadStatus
from domain.lead_scoring import (
    AttributeRule,
    EngagementKind,
    EngagementRule,
    ScoreLine,
    ScoringRules,
)
from domain.pipeline import DEFAULT_STAGES
from domain.sales_team import SalesRep, SalesTeam
from tests.unit.builders import META

RULES = ScoringRules(
    version=4,
    attribute_rules=(
        AttributeRule(name="Large company", attribute="company_size", points=20, min=Decimal(200)),
        AttributeRule(name="Webinar", attribute="source", points=10, equals="webinar"),
    ),
    engagement_rules=(
        EngagementRule(name="Clicks", kind=EngagementKind.EMAIL_CLICKED, points=5, max_points=10),
    ),
)


def send(command, aggregate, aggregate_id=None):
    """Runs a command's handler the way the command bus does."""
    return HANDLERS[type(command)][1](command, aggregate, aggregate_id or uuid4(), META)


def capture(team: SalesTeam | None = None, **fields) -> tuple[Lead, dict]:
    given = {"name": "Grace", "email": "grace@example.com", "rules": RULES} | fields
    _, answer, (lead,) = send(CaptureLead(**given), team)
    return lead, answer


def qualified() -> Lead:
    lead, _ = capture(company="Navy Labs", source="webinar")
    send(QualifyLead(), lead)
    return lead


def test_capture_scores_the_lead_and_explains_its_score() -> None:
    lead, answer = capture(source="Webinar", attributes={"company_size": 1200, "country": "US"})
    assert lead.status == LeadStatus.NEW
    assert lead.score.points == 30
    assert lead.score.rules_version == 4
    assert lead.score.explanation == (
        ScoreLine(rule="Large company", points=20),
        ScoreLine(rule="Webinar", points=10),
    )
    assert answer == {
        "id": str(lead.id),
        "version": 2,
        "owner_id": None,
        "duplicate_of": None,
        "score": 30,
    }
    assert [type(e).__qualname__ for e in lead.collect_events()] == ["Lead.Captured", "Lead.Scored"]


def test_capture_assigns_the_rep_whose_turn_it_is_and_records_it_on_the_team() -> None:
    team = SalesTeam.start(META)
    team.set_reps((SalesRep(id="ann", name="Ann"), SalesRep(id="bob", name="Bob")), "country", META)
    first, _ = capture(team)
    second, answer = capture(team, email="other@example.com")
    assert (first.owner_id, second.owner_id, answer["owner_id"]) == ("ann", "bob", "bob")
    assert team.turns == 2


def test_capture_without_a_team_starts_it_and_leaves_the_lead_unassigned() -> None:
    team, answer, (lead,) = send(
        CaptureLead(name="Grace", email="grace@example.com", rules=ScoringRules()), None
    )
    assert isinstance(team, SalesTeam) and team.turns == 0
    assert lead.owner_id is None and answer["id"] == str(lead.id)
    assert lead.version == 1  # no rules, score 0: nothing to score


def test_a_second_lead_with_the_same_email_is_marked_duplicate() -> None:
    team = SalesTeam.start(META)
    first, _ = capture(team)
    second, answer = capture(team, email="GRACE@example.com")
    assert second.duplicate_of == first.id
    assert answer["duplicate_of"] == str(first.id)


def test_qualifying_twice_records_once_and_a_disqualified_lead_may_come_back() -> None:
    lead, _ = capture()
    send(QualifyLead(), lead)
    version = lead.version
    send(QualifyLead(), lead)
    assert lead.version == version
    send(DisqualifyLead(reason="No budget"), lead)
    assert (lead.status, lead.disqualified_reason) == (LeadStatus.DISQUALIFIED, "No budget")
    send(QualifyLead(), lead)
    assert (lead.status, lead.disqualified_reason) == (LeadStatus.QUALIFIED, None)


def test_disqualifying_again_records_only_a_new_reason() -> None:
    lead, _ = capture()
    send(DisqualifyLead(reason="No budget"), lead)
    version = lead.version
    send(DisqualifyLead(reason="No budget"), lead)
    assert lead.version == version
    send(DisqualifyLead(reason="Went silent"), lead)
    assert (lead.version, lead.disqualified_reason) == (version + 1, "Went silent")


@pytest.mark.parametrize(
    ("prepare", "refusal"),
    [
        (lambda lead: None, LeadNotQualified),
        (lambda lead: send(DisqualifyLead(reason="Student"), lead), LeadDisqualified),
    ],
)
def test_only_a_qualified_lead_converts(prepare, refusal) -> None:
    lead, _ = capture()
    prepare(lead)
    version = lead.version
    with pytest.raises(refusal):
        send(ConvertLead(), lead)
    assert lead.version == version


def test_converting_creates_a_customer_with_the_leads_name_email_and_no_consent() -> None:
    lead = qualified()
    _, answer, created = send(ConvertLead(), lead)
    (customer,) = created
    assert isinstance(customer, Customer)
    assert (customer.personal.name, customer.personal.email) == ("Grace", "grace@example.com")
    assert customer.consent == {}
    assert customer.profile.source == "webinar"
    assert customer.custom_fields == {"company": "Navy Labs"}
    assert answer == {"customer_id": str(customer.id), "customer_created": True, "deal_id": None}
    assert (lead.status, lead.customer_id) == (LeadStatus.CONVERTED, customer.id)


def test_converting_links_a_known_customer_instead_of_creating_one() -> None:
    lead = qualified()
    known = uuid4()
    command = ConvertLead(matched_customer_id=known)
    assert command.required() == {known: Customer}
    _, answer, created = send(command, lead)
    assert created == ()
    assert (answer["customer_id"], answer["customer_created"]) == (str(known), False)
    chosen = uuid4()
    assert ConvertLead(customer_id=chosen, matched_customer_id=known).linked_customer_id == chosen


def test_converting_may_open_a_deal_owned_by_the_leads_owner() -> None:
    team = SalesTeam.start(META)
    team.set_reps((SalesRep(id="ann", name="Ann"),), "country", META)
    lead, _ = capture(team)
    send(QualifyLead(), lead)
    draft = DealDraft(title="Pilot", amount=Decimal(9000), currency="EUR", stage="proposal")
    _, answer, (customer, deal) = send(ConvertLead(deal=draft, pipeline=DEFAULT_STAGES), lead)
    assert isinstance(deal, Deal)
    assert (deal.customer_id, deal.owner, deal.stage) == (customer.id, "ann", "proposal")
    assert answer["deal_id"] == str(deal.id) == str(lead.deal_id)


def test_a_deal_in_an_unknown_stage_refuses_the_whole_conversion() -> None:
    lead = qualified()
    version = lead.version
    draft = DealDraft(title="Pilot", amount=Decimal(1), currency="EUR", stage="nowhere")
    with pytest.raises(InvalidValue) as refused:
        send(ConvertLead(deal=draft, pipeline=DEFAULT_STAGES), lead)
    assert refused.value.field == "deal.stage"
    assert (lead.version, lead.status) == (version, LeadStatus.QUALIFIED)


@pytest.mark.parametrize(
    "command",
    [
        QualifyLead(),
        DisqualifyLead(reason="Late"),
        ConvertLead(),
        RecordLeadEngagement(kind="email_opened", rules=RULES),
    ],
)
def test_a_converted_lead_changes_no_more(command) -> None:
    lead = qualified()
    send(ConvertLead(), lead)
    version = lead.version
    with pytest.raises(LeadConverted) as refused:
        send(command, lead)
    assert refused.value.rule == "lead-converted"
    assert lead.version == version


def test_engagement_is_recorded_and_rescores_the_lead_by_the_rules_in_force() -> None:
    lead, _ = capture()
    lead.collect_events()
    answers = [
        send(RecordLeadEngagement(kind="email_clicked", rules=RULES), lead)[1]["score"]
        for _ in range(3)
    ]
    assert answers == [5, 10, 10]  # capped at 10
    assert lead.engagement == {"email_clicked": 3}
    assert lead.score.explanation == (ScoreLine(rule="Clicks", points=10),)
    names = [type(e).__qualname__ for e in lead.collect_events()]
    assert names == [
        "Lead.EngagementRecorded",
        "Lead.Scored",
        "Lead.EngagementRecorded",
        "Lead.Scored",
        "Lead.EngagementRecorded",  # the third click changed no score
    ]
