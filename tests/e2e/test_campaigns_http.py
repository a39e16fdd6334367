"""Campaigns over HTTP against `crm serve`: drafting and requesting a send, then tracking.

The SMTP sender does not exist yet: its part (recording each customer's EmailSent) is played
by a command bus of this test on the service's own database, which also shares its tracking
key (kept in PostgreSQL). Opens and clicks then go through the real HTTP routes."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from api.bootstrap import Container, assemble
from commands.campaigns import RecordEmailSend
from commands.context import Target
from infra import tracking
from infra.settings import Settings
from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, events_of, register
from tests.integration.conftest import context
from tests.waiting import wait_for

LINK = "https://shop.example.com/spring?utm=mail"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
APPLE_PRIVACY_PROXY = "Mozilla/5.0"


@pytest.fixture(scope="module")
def sender(service) -> Iterator[Container]:
    """A command bus on the service's database, standing in for the sender."""
    url = service.env["CRM_DATABASE_URL"]
    container = assemble(Settings(database_url=url, _env_file=None), url)
    container.start()
    yield container
    container.close()


def secret(sender: Container) -> bytes:
    with sender.pool.connection() as conn:
        return tracking.tracking_secret(conn, Settings(_env_file=None))


def create_campaign(api, **audience) -> str:
    created = api.post(
        "/v1/campaigns",
        json={
            "name": "Spring",
            "subject": "Hi {{ customer.name }}",
            "body_html": f'<p>Hi {{{{ customer.name }}}}</p><a href="{LINK}">Shop</a>',
        }
        | audience,
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/v1/campaigns/{created.json()['id']}"
    return created.json()["id"]


def record_sent(sender: Container, campaign_id: str, customer_id: str) -> None:
    command = RecordEmailSend(
        campaign_id=UUID(campaign_id),
        message_id=f"<{uuid4()}@crm>",
        links=[LINK],
        occurred_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    outcome = sender.bus.execute(Target(UUID(customer_id)), command, context(actor="sender"))
    assert outcome.body["outcome"] == "sent"


def test_a_campaign_is_drafted_for_a_segment_and_sent_once(api) -> None:
    # Given a campaign for a tag
    campaign_id = create_campaign(api, segment={"tag": f"spring-{uuid4().hex[:8]}"})
    shown = read_at_least(api, f"/v1/campaigns/{campaign_id}", 1).json()
    assert (shown["status"], shown["audience"]) == (
        "draft",
        {"segment": shown["audience"]["segment"]},
    )
    # When its send is requested
    sent = api.post(f"/v1/campaigns/{campaign_id}/send")
    # Then it is accepted, the campaign is sending, and a second request is refused
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"id": campaign_id, "version": 2}
    assert read_at_least(api, f"/v1/campaigns/{campaign_id}", 2).json()["status"] == "sending"
    again = api.post(f"/v1/campaigns/{campaign_id}/send")
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"] == "/problems/campaign-already-sent"


def test_invalid_campaigns_are_422_naming_the_field(api) -> None:
    base = {"name": "n", "subject": "s", "body_html": "b", "segment": {"tag": "x"}}
    for change, field in (
        ({"body_html": "{% for %}"}, "body_html"),
        ({"subject": "{{ customer.name"}, "subject"),
        ({"customer_ids": [str(uuid4())]}, "segment"),
    ):
        refused = api.post("/v1/campaigns", json=base | change)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert api.get(f"/v1/campaigns/{uuid4()}").status_code == 404


def test_a_list_of_any_size_is_drafted_in_parts(api) -> None:
    # Given a campaign drafted for the first 10,000 customers of a list of 25,000
    listed = [str(uuid4()) for _ in range(25_000)]
    campaign_id = create_campaign(api, customer_ids=listed[:10_000])
    recipients = f"/v1/campaigns/{campaign_id}/recipients"
    # When the rest is added in parts of at most 10,000 (one id of the first part again)
    for part in (listed[10_000:20_000], [listed[0], *listed[20_000:]]):
        added = api.post(recipients, json={"customer_ids": part})
        assert added.status_code == 200, added.text
    # Then the campaign lists every customer once, in order
    shown = read_at_least(api, f"/v1/campaigns/{campaign_id}", version=3)
    assert shown.json()["audience"]["customer_ids"] == listed
    # And a part over 10,000, or a part once the send is requested, is refused
    too_many = api.post(recipients, json={"customer_ids": [str(uuid4()) for _ in range(10_001)]})
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["customer_ids"]
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    late = api.post(recipients, json={"customer_ids": [str(uuid4())]})
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/campaign-already-sent"


def test_opens_and_clicks_are_tracked_and_counted_by_recipient(api, sender) -> None:
    # Given a campaign being sent, and two customers the sender recorded it sent to
    ada, bob = (
        register(api, email=f"{n}@example.com", consent={"email_marketing": True}) for n in "ab"
    )
    campaign_id = create_campaign(api, customer_ids=[ada, bob])
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    for customer in (ada, bob):
        record_sent(sender, campaign_id, customer)
    key, campaign = secret(sender), UUID(campaign_id)
    pixel = {c: tracking.sign_open(key, campaign, UUID(c)) for c in (ada, bob)}
    with httpx.Client(base_url=api.base_url, timeout=30) as anonymous:  # readers have no key
        # When Ada opens twice and clicks, and Apple's proxy fetches Bob's pixel
        for _ in range(2):
            opened = anonymous.get(f"/v1/t/o/{pixel[ada]}", headers={"User-Agent": BROWSER})
            assert opened.status_code == 200
            assert opened.headers["content-type"] == "image/gif"
            assert opened.headers["cache-control"] == "no-store"
            assert opened.content.startswith(b"GIF89a")
        proxy = anonymous.get(f"/v1/t/o/{pixel[bob]}", headers={"User-Agent": APPLE_PRIVACY_PROXY})
        assert proxy.status_code == 200
        click = anonymous.get(f"/v1/t/c/{tracking.sign_click(key, campaign, UUID(ada), 0)}")
        # Then the click redirects to the registered link only
        assert (click.status_code, click.headers["location"]) == (302, LINK)
        # And tampered tokens, unknown links and a pixel token used as a click are 404s
        tampered = pixel[ada][:-1] + ("A" if pixel[ada][-1] != "A" else "B")
        for path in (
            f"/v1/t/o/{tampered}",
            f"/v1/t/c/{tracking.sign_click(key, campaign, UUID(ada), 1)}",
            f"/v1/t/c/{pixel[ada]}",
            f"/v1/t/c/{tracking.sign_click(b'another key', campaign, UUID(ada), 0)}",
            f"/v1/t/o/{tracking.sign_open(key, uuid4(), UUID(ada))}",
        ):
            refused = anonymous.get(path)
            assert (refused.status_code, refused.headers["content-type"]) == (404, PROBLEM), path
            assert "location" not in refused.headers
    # And the metrics count unique recipients, machine opens apart
    expected = {
        "sent": 2, "suppressed": 0, "opened": 1, "clicked": 1, "machine_opened": 1,
        "bounced": 0, "open_rate": 0.5, "click_rate": 0.5,
    }  # fmt: skip
    wait_for(lambda: api.get(f"/v1/campaigns/{campaign_id}/metrics").json() == expected)
    # And Ada's second open, a repeat within the dedupe window, is not recorded
    opens = [e for e in events_of(api, ada) if e["type"] == "Customer.EmailOpened"]
    assert [(e["actor"], e["data"]["machine"]) for e in opens] == [("tracking", False)]
