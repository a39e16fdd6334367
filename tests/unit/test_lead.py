"""A lead's rules, through the command handlers as the command bus runs them, with the
configuration they consult (scoring rules, sales team, pipeline)."""

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

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
from domain.lead import LeadConverted, LeadDisqualified, LeadNotQualified, LeadStatus
from domain.lead_scoring import (
    LEAD_SCORING_ID,
    AttributeRule,
    EngagementKind,
    EngagementRule,
    LeadScoring,
    ScoreLine,
)
from domain.pipeline import PIPELINE_ID, Pipeline, Stage
from domain.sales_team import SALES_TEAM_ID, SalesTeam
from tests.unit.builders import META
from tests.unit.lead_builders import capture, qualified, rep, scoring, send, team

SCORING = scoring(
    AttributeRule(name="Large company", attribute="company_size", points=20, min=Decimal(200)),
    AttributeRule(name="Webinar", attribute="source", points=10, equals="webinar"),
    engagement=(
        EngagementRule(name="Clicks", kind=EngagementKind.EMAIL_CLICKED, points=5, max_points=10),
    ),
)


def test_lead_commands_consult_the_configuration_they_are_decided_with() -> None:
    draft = DealDraft(title="Pilot", amount=Decimal(1), currency="EUR", stage="proposal")
    assert CaptureLead(name="Grace", email="grace@example.com").consulted() == {
        SALES_TEAM_ID: SalesTeam,
        LEAD_SCORING_ID: LeadScoring,
    }
    assert RecordLeadEngagement(kind="email_opened").consulted() == {LEAD_SCORING_ID: LeadScoring}
    assert ConvertLead(deal=draft).consulted() == {PIPELINE_ID: Pipeline}
    assert ConvertLead().consulted() == {}


def test_capture_scores_the_lead_and_explains_its_score() -> None:
    lead, answer = capture(
        SCORING, source="Webinar", attributes={"company_size": 1200, "country": "US"}
    )
    assert (lead.status, lead.version) == (LeadStatus.NEW, 2)
    assert lead.score.points == 30
    assert lead.score.rules_version == SCORING.rules.version == 1
    assert lead.score.explanation == (
        ScoreLine(rule="Large company", points=20),
        ScoreLine(rule="Webinar", points=10),
    )
    assert answer == {"owner_id": None, "duplicate_of": None, "score": 30}
    assert [type(e).__qualname__ for e in lead.collect_events()] == ["Lead.Captured", "Lead.Scored"]


def test_capture_assigns_the_rep_whose_turn_it_is_and_records_it_on_the_team() -> None:
    sales = team(rep("ann"), rep("bob"))
    first, _ = capture(sales, SCORING)
    second, answer = capture(sales, SCORING, email="other@example.com")
    assert (first.owner_id, second.owner_id, answer["owner_id"]) == ("ann", "bob", "bob")
    assert sales.turns == 2
    taken = [type(e).__qualname__ for e in sales.collect_events()][-2:]
    assert taken == ["SalesTeam.LeadTaken", "SalesTeam.LeadTaken"]


def test_capture_without_a_team_or_rules_starts_the_team_and_leaves_the_lead_unassigned() -> None:
    lead, _, started = send(CaptureLead(name="Grace", email="grace@example.com"), None)
    (sales,) = started
    assert isinstance(sales, SalesTeam) and sales.id == SALES_TEAM_ID and sales.turns == 0
    assert len(sales.leads_by_email) == 1  # so that a second lead with the email is a duplicate
    assert lead.owner_id is None
    assert lead.version == 1  # no rules, score 0: nothing to score
    _, _, started = send(CaptureLead(name="Ada", email="ada@example.com"), None, sales)
    assert started == ()


def test_a_second_lead_with_the_same_email_is_marked_duplicate() -> None:
    sales = SalesTeam.start(META)
    first, _ = capture(sales)
    second, answer = capture(sales, email="GRACE@example.com")
    assert second.collect_events()[0].duplicate_of == first.id
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


class Known:
    """Lookups that know one customer's email."""

    def __init__(self, email: str, customer_id: UUID) -> None:
        self.email, self.customer_id = email, customer_id

    def customer_with_email(self, email: str) -> UUID | None:
        return self.customer_id if email == self.email else None


def test_converting_links_a_known_customer_instead_of_creating_one() -> None:
    known = uuid4()
    lookups = Known("grace@example.com", known)
    assert ConvertLead(customer_id=known).required() == {known: Customer}
    _, answer, created = send(ConvertLead(), qualified(), lookups=lookups)
    assert created == ()
    assert (answer["customer_id"], answer["customer_created"]) == (str(known), False)
    chosen = uuid4()
    _, answer, _ = send(ConvertLead(customer_id=chosen), qualified(), lookups=lookups)
    assert answer["customer_id"] == str(chosen)


def draft(stage: str) -> DealDraft:
    return DealDraft(title="Pilot", amount=Decimal(9000), currency="EUR", stage=stage)


def test_converting_may_open_a_deal_owned_by_the_leads_owner() -> None:
    lead = qualified(team(rep("ann")))
    _, answer, (customer, deal) = send(ConvertLead(deal=draft("proposal")), lead)
    assert isinstance(deal, Deal)
    (opened,) = deal.collect_events()
    assert (deal.customer_id, opened.owner, deal.stage) == (customer.id, "ann", "proposal")
    assert answer["deal_id"] == str(deal.id) == str(lead.collect_events()[-1].deal_id)


def test_the_deal_is_opened_in_a_stage_of_the_stored_pipeline() -> None:
    # Given a pipeline whose only open stage is "demo"
    pipeline = Pipeline.start(META)
    pipeline.configure((Stage(name="demo", probability=30),), META)
    # When qualified leads are converted with a deal in "demo", then in a default stage
    _, _, (_, deal) = send(ConvertLead(deal=draft("demo")), qualified(), pipeline)
    with pytest.raises(InvalidValue) as refused:
        send(ConvertLead(deal=draft("proposal")), qualified(), pipeline)
    # Then the stages are the pipeline's
    (opened,) = deal.collect_events()
    assert (deal.stage, opened.probability) == ("demo", 30)
    assert refused.value.field == "deal.stage"


def test_a_deal_in_an_unknown_stage_refuses_the_whole_conversion() -> None:
    lead = qualified()
    version = lead.version
    with pytest.raises(InvalidValue) as refused:
        send(ConvertLead(deal=draft("nowhere")), lead)
    assert refused.value.field == "deal.stage"
    assert (lead.version, lead.status) == (version, LeadStatus.QUALIFIED)


@pytest.mark.parametrize(
    "command",
    [
        QualifyLead(),
        DisqualifyLead(reason="Late"),
        ConvertLead(),
        RecordLeadEngagement(kind="email_opened"),
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
        send(RecordLeadEngagement(kind="email_clicked"), lead, SCORING)[1]["score"]
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
