"""Repeated tracking hits through the command bus on a real PostgreSQL: a burst of replays of
one open or click records one event, also when two writers (two API processes) take them at
once, and the campaign's metrics count the recipient once."""

from concurrent.futures import wait
from uuid import UUID

from api.bootstrap import Container
from commands.campaigns import CompleteCampaign, RecordEmailClick, RecordEmailOpen
from commands.context import Target
from consumers.store_follower import StoreFollower
from projections.campaign_recipients import queries
from projections.catalog import CAMPAIGN_RECIPIENTS
from tests.integration.conftest import context, crm_on, register
from tests.integration.test_campaigns_bus import BROWSER, send, sending_campaign

HOUR = 3600


def subscriber_sent_a_campaign(crm: Container) -> tuple[UUID, UUID]:
    customer_id = register(crm.bus, email="ada@example.com", consent={"email_marketing": True})
    campaign_id = sending_campaign(crm.bus, [customer_id])
    assert send(crm.bus, campaign_id, customer_id)["outcome"] == "sent"
    return customer_id, campaign_id


def tracking_events(crm: Container, customer_id: UUID) -> list[str]:
    names = [type(e).__name__ for e in crm.store.events.get(customer_id)]
    return [name for name in names if name in ("EmailOpened", "EmailClicked")]


def test_300_replays_of_an_open_and_a_click_record_one_each(container) -> None:
    # Given a customer sent a campaign's email
    customer_id, campaign_id = subscriber_sent_a_campaign(container)
    open_ = RecordEmailOpen(campaign_id=campaign_id, user_agent=BROWSER, dedupe_seconds=HOUR)
    click = RecordEmailClick(campaign_id=campaign_id, link_index=0, dedupe_seconds=HOUR)
    # When its pixel and its link are each replayed 300 times at once
    answers = [
        container.bus.submit(Target(customer_id), command, context())
        for _ in range(300)
        for command in (open_, click)
    ]
    wait(answers, timeout=60)
    # Then every click is answered with its link, and one open and one click are recorded
    urls = {a.result().body.get("url") for a in answers} - {None}
    assert urls == {"https://shop.example.com/spring"}
    assert sorted(tracking_events(container, customer_id)) == ["EmailClicked", "EmailOpened"]
    # And the campaign counts the recipient once, with one open and one click
    container.bus.execute(Target(campaign_id), CompleteCampaign(sent=1, suppressed=0), context())
    StoreFollower(container.store, container.pool, container.url, [CAMPAIGN_RECIPIENTS]).catch_up()
    with container.pool.connection() as conn:
        shown = queries.metrics(conn, campaign_id).shown()
        opens, clicks = conn.execute(
            "SELECT opens, clicks FROM campaign_recipients WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    assert (shown["opened"], shown["clicked"], shown["open_rate"]) == (1, 1, 1.0)
    assert (opens, clicks) == (1, 1)


def test_two_writers_replaying_the_same_open_record_it_once(new_database) -> None:
    # Given two command writers on one event store, as two API processes have
    url = new_database()
    with crm_on(url) as first, crm_on(url) as second:
        customer_id, campaign_id = subscriber_sent_a_campaign(first)
        second.store.get_many([customer_id])  # each holds the customer in its cache
        open_ = RecordEmailOpen(campaign_id=campaign_id, user_agent=BROWSER, dedupe_seconds=HOUR)
        # When both take replays of the same open at once
        answers = [
            writer.bus.submit(Target(customer_id), open_, context())
            for _ in range(50)
            for writer in (first, second)
        ]
        wait(answers, timeout=60)
        # Then all are answered, and one open is recorded
        assert all(a.result().status == 200 for a in answers)
        assert tracking_events(first, customer_id) == ["EmailOpened"]
