"""Campaign and email commands through the command bus, and the campaign_recipients read model
rebuilt from the event store equal to the live one."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from commands.campaigns import (
    CompleteCampaign,
    CreateCampaign,
    RecordEmailBounce,
    RecordEmailClick,
    RecordEmailOpen,
    RecordEmailSend,
    RequestCampaignSend,
)
from commands.context import Target
from consumers.store_follower import StoreFollower
from domain.campaign import CampaignNotSending
from domain.email_delivery import EmailNotSent
from projections.campaign_recipients import queries
from projections.catalog import CAMPAIGN_RECIPIENTS
from projections.rebuild import rebuild
from tests.integration.conftest import context, register

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"
ACTIONS = {
    "open": lambda c: RecordEmailOpen(campaign_id=c, user_agent=BROWSER),
    "proxy open": lambda c: RecordEmailOpen(campaign_id=c, user_agent="Mozilla/5.0"),
    "click": lambda c: RecordEmailClick(campaign_id=c, link_index=0),
    "bounce": lambda c: RecordEmailBounce(campaign_id=c, reason="550 5.1.1"),
}


def sending_campaign(bus, customer_ids: list[UUID]) -> UUID:
    """A campaign to the listed customers whose send is requested."""
    campaign_id = uuid4()
    create = CreateCampaign(
        name="Spring", subject="Hi", body_html="<p>Hi</p>", customer_ids=customer_ids
    )
    bus.execute(Target(campaign_id, creates=True), create, context())
    bus.execute(Target(campaign_id), RequestCampaignSend(), context())
    return campaign_id


def send(bus, campaign_id: UUID, customer_id: UUID) -> dict:
    command = RecordEmailSend(
        campaign_id=campaign_id,
        message_id=f"<{uuid4()}@crm>",
        links=["https://shop.example.com/spring"],
        occurred_at=AN_HOUR_AGO,
    )
    return bus.execute(Target(customer_id), command, context()).body


def test_the_sender_records_each_customer_once_and_tracking_needs_a_send(container) -> None:
    bus = container.bus
    subscriber = register(bus, email="ada@example.com", consent={"email_marketing": True})
    refusing = register(bus, email="bob@example.com")
    draft = uuid4()
    bus.execute(
        Target(draft, creates=True),
        CreateCampaign(name="d", subject="s", body_html="b", customer_ids=[subscriber]),
        context(),
    )
    with pytest.raises(CampaignNotSending):
        send(bus, draft, subscriber)
    campaign_id = sending_campaign(bus, [subscriber, refusing])
    first = send(bus, campaign_id, subscriber)
    assert first["outcome"] == "sent"
    assert send(bus, campaign_id, subscriber) == first
    assert send(bus, campaign_id, refusing)["reason"] == "no-consent"
    with pytest.raises(EmailNotSent):
        bus.execute(Target(refusing), ACTIONS["open"](campaign_id), context())
    clicked = bus.execute(Target(subscriber), ACTIONS["click"](campaign_id), context())
    assert clicked.body["url"] == "https://shop.example.com/spring"
    bus.execute(Target(campaign_id), CompleteCampaign(sent=1, suppressed=1), context())
    StoreFollower(container.store, container.pool, container.url, [CAMPAIGN_RECIPIENTS]).catch_up()
    with container.pool.connection() as conn:
        shown = queries.metrics(conn, campaign_id).shown()
    assert shown == {
        "sent": 1, "suppressed": 1, "opened": 0, "clicked": 1, "machine_opened": 0,
        "bounced": 0, "open_rate": 0.0, "click_rate": 1.0,
    }  # fmt: skip


recipients = st.lists(
    st.tuples(st.booleans(), st.lists(st.sampled_from(sorted(ACTIONS)), max_size=5)),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(recipients)
def test_rebuilding_campaign_recipients_equals_the_live_table(container, recipients) -> None:
    # Given a campaign sent to customers (with or without consent) who open, click, bounce
    bus = container.bus
    customers = [
        (register(bus, email="c@example.com", consent={"email_marketing": consent}), actions)
        for consent, actions in recipients
    ]
    campaign_id = sending_campaign(bus, [c for c, _ in customers])
    for customer_id, actions in customers:
        if send(bus, campaign_id, customer_id)["outcome"] == "sent":
            for action in actions:
                bus.execute(Target(customer_id), ACTIONS[action](campaign_id), context())
    # And the live read model, fed in-process, caught up
    StoreFollower(container.store, container.pool, container.url, [CAMPAIGN_RECIPIENTS]).catch_up()
    with container.pool.connection() as conn:
        live = rows(conn)
        # When it is rebuilt from position 0 and swapped in
        rebuild(conn, CAMPAIGN_RECIPIENTS)
        # Then it is the same, row for row
        assert rows(conn) == live
        assert queries.metrics(conn, campaign_id).sent == sum(c for c, _ in recipients)


def rows(conn) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM campaign_recipients ORDER BY campaign_id, customer_id"
        ).fetchall()
