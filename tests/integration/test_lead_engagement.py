"""Lead engagement over a real PostgreSQL: a customer's opens and clicks of campaign emails
score the open leads with the same email, once each, even when handled again."""

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from api.bootstrap import Container
from commands.context import Target
from commands.leads import CaptureLead, DisqualifyLead, SetScoringRules
from consumers import automation_records
from consumers.lead_engagement import NAME, LeadEngagement
from consumers.store_follower import StoreFollower
from domain.lead_scoring import LEAD_SCORING_ID
from projections.catalog import CUSTOMER_360, LEADS
from tests.integration.conftest import context, crm_on, register
from tests.integration.test_campaigns_bus import ACTIONS, send, sending_campaign

RULES = SetScoringRules(
    engagement_rules=[
        {"name": "Opens", "kind": "email_opened", "points": 1},
        {"name": "Clicks", "kind": "email_clicked", "points": 5},
    ]
)


@pytest.fixture
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: the scoring rules are global."""
    with crm_on(new_database()) as built:
        yield built


def capture(bus, email: str) -> UUID:
    lead_id = uuid4()
    command = CaptureLead(name="Ada", email=email, company="Acme", source="webinar")
    bus.execute(Target(lead_id, creates=True), command, context())
    return lead_id


def score(crm: Container, lead_id: UUID) -> int:
    return crm.store.get_many([lead_id])[lead_id].score.points


def caught_up(crm: Container) -> None:
    """Feeds the read models the engagement reads (customer_360, leads) up to the newest event."""
    StoreFollower(crm.store, crm.pool, crm.url, [CUSTOMER_360, LEADS]).catch_up()


def test_a_customers_opens_and_clicks_score_the_open_leads_with_their_email(crm) -> None:
    bus = crm.bus
    bus.execute(Target(LEAD_SCORING_ID, creates=True), RULES, context())
    # Given a subscriber, an open lead with the same email (in other case), a disqualified
    # one with it too, and a lead with another email
    ada = register(bus, email="ada@example.com", consent={"email_marketing": True})
    same, other = capture(bus, "ADA@example.com"), capture(bus, "bob@example.com")
    disqualified = capture(bus, "ada@example.com")
    bus.execute(Target(disqualified), DisqualifyLead(reason="student"), context())
    # When Ada opens a campaign email twice, a proxy prefetches it, and she clicks a link
    campaign_id = sending_campaign(bus, [ada])
    send(bus, campaign_id, ada)
    for action in ("open", "proxy open", "open", "click"):
        bus.execute(Target(ada), ACTIONS[action](campaign_id), context())
    caught_up(crm)
    engagement = LeadEngagement(crm)
    while engagement.step():
        pass
    # Then the open lead with her email scores two opens and a click; machine opens nothing
    assert score(crm, same) == 2 * 1 + 5
    # And the disqualified lead and the other one are untouched
    assert score(crm, disqualified) == score(crm, other) == 0
    # When the same events are handled again (a crash before the position was saved)
    automation_records.record_position(crm.pool, NAME, 0)
    again = LeadEngagement(crm)
    while again.step():
        pass
    # Then nothing is counted twice
    assert score(crm, same) == 7
    assert [e.kind for e in _engagements(crm, same)] == ["email_opened"] * 2 + ["email_clicked"]


def _engagements(crm: Container, lead_id: UUID) -> list:
    events = crm.store.events.get(lead_id)
    return [e for e in events if type(e).__name__ == "EngagementRecorded"]
