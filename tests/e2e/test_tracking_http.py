"""Tracking links against a real `crm serve`: tokens that reveal nothing, replays answered but
recorded once per window, and a rate limit per client.

Clients are told apart by their address; the tests speak for several through X-Forwarded-For,
which `crm serve` (uvicorn) takes from a proxy on 127.0.0.1, so that each test has its own
client and rate-limit count."""

import base64
import time
from collections.abc import Callable, Iterator
from uuid import UUID

import httpx
import pytest

from api.bootstrap import Container, assemble
from infra import tracking
from infra.settings import Settings
from tests.e2e.conftest import Service, serving
from tests.e2e.test_campaigns_http import BROWSER, LINK, create_campaign, record_sent, secret
from tests.e2e.test_customers_http import PROBLEM, register
from tests.unit.test_tracking_tokens import first_format
from tests.waiting import wait_for

WINDOW = 2.0
"""The dedupe window of the `brief` service, in seconds."""
LIMIT = 20
"""Tracking requests a client may make per minute on the `brief` service."""


def sender_on(service: Service) -> Container:
    """A command bus on the service's database, standing in for `crm automate`'s sender."""
    url = service.env["CRM_DATABASE_URL"]
    container = assemble(Settings(database_url=url, _env_file=None), url)
    container.start()
    return container


@pytest.fixture(scope="module")
def sender(service) -> Iterator[Container]:
    container = sender_on(service)
    yield container
    container.close()


@pytest.fixture(scope="module")
def brief(new_database: Callable[[], str]) -> Iterator[Service]:
    """`crm serve` with a short dedupe window and a low rate limit."""
    with serving(
        new_database(), tracking_dedupe_seconds=str(WINDOW), tracking_rate_limit=f"{LIMIT}/minute"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def brief_sender(brief: Service) -> Iterator[Container]:
    container = sender_on(brief)
    yield container
    container.close()


@pytest.fixture(scope="module")
def brief_api(brief: Service) -> Iterator[httpx.Client]:
    with brief.client(brief.create_key("service")) as client:
        yield client


def emailed(api: httpx.Client, sender: Container) -> tuple[UUID, UUID]:
    """(campaign, customer): a subscriber the sender recorded a campaign's email sent to."""
    customer = register(api, email="ada@example.com", consent={"email_marketing": True})
    campaign = create_campaign(api, customer_ids=[customer])
    assert api.post(f"/v1/campaigns/{campaign}/send").status_code == 202
    record_sent(sender, campaign, customer)
    return UUID(campaign), UUID(customer)


def client_at(api: httpx.Client, address: str) -> httpx.Client:
    """An anonymous client (readers have no key) that the service sees at `address`."""
    headers = {"X-Forwarded-For": address, "User-Agent": BROWSER}
    return httpx.Client(base_url=api.base_url, headers=headers, timeout=30)


def recorded(sender: Container, customer: UUID, name: str) -> int:
    """How many events `name` the customer's stream holds (read from the event store)."""
    return sum(type(e).__name__ == name for e in sender.store.events.get(customer))


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_300_replays_of_an_open_and_50_of_a_click_record_one_each(api, sender) -> None:
    # Given an email sent, with its pixel and its link
    campaign, customer = emailed(api, sender)
    key = secret(sender)
    pixel = tracking.sign_open(key, campaign, customer)
    link = tracking.sign_click(key, campaign, customer, 0)
    with client_at(api, "198.51.100.1") as reader:
        # When the pixel is fetched 300 times and the link followed 50 times
        opens = [reader.get(f"/v1/t/o/{pixel}") for _ in range(300)]
        clicks = [reader.get(f"/v1/t/c/{link}") for _ in range(50)]
    # Then every fetch is answered with the GIF, every click redirected to the link
    assert {(r.status_code, r.headers["content-type"]) for r in opens} == {(200, "image/gif")}
    assert {(r.status_code, r.headers["location"]) for r in clicks} == {(302, LINK)}
    # And the customer's stream holds one open and one click
    assert recorded(sender, customer, "EmailOpened") == 1
    assert recorded(sender, customer, "EmailClicked") == 1
    # And the campaign counts the recipient as opened and clicked
    metrics = f"/v1/campaigns/{campaign}/metrics"
    wait_for(lambda: api.get(metrics).json().get("clicked") == 1)  # 404 until projected
    shown = api.get(metrics).json()
    assert (shown["sent"], shown["opened"], shown["clicked"]) == (1, 1, 1)


def test_links_reveal_no_id_and_emails_sent_before_still_work(api, sender) -> None:
    # Given an email sent, whose pixel token is as the sender puts it in the email
    campaign, customer = emailed(api, sender)
    key = secret(sender)
    pixel = tracking.sign_open(key, campaign, customer)
    # Then the token's bytes hold neither the customer's id nor the campaign's
    raw = base64.urlsafe_b64decode(pixel + "=" * (-len(pixel) % 4))
    assert customer.bytes not in raw and campaign.bytes not in raw
    assert customer.hex not in pixel and campaign.hex not in pixel
    with client_at(api, "198.51.100.2") as reader:
        # And it works, while the same token changed is a 404 problem
        assert reader.get(f"/v1/t/o/{pixel}").status_code == 200
        refused = reader.get(f"/v1/t/o/{tampered(pixel)}")
        assert (refused.status_code, refused.headers["content-type"]) == (404, PROBLEM)
        # And a link of the format sent before tokens were encrypted still redirects
        old_link = first_format(key, campaign, customer, 0)
        followed = reader.get(f"/v1/t/c/{old_link}")
        assert (followed.status_code, followed.headers["location"]) == (302, LINK)
        assert reader.get(f"/v1/t/c/{tampered(old_link)}").status_code == 404
    assert recorded(sender, customer, "EmailOpened") == 1
    assert recorded(sender, customer, "EmailClicked") == 1


def test_once_the_window_has_passed_an_open_and_a_click_are_recorded_again(
    brief_api, brief_sender
) -> None:
    # Given an email sent, opened and clicked, then opened and clicked again at once
    campaign, customer = emailed(brief_api, brief_sender)
    key = secret(brief_sender)
    pixel = f"/v1/t/o/{tracking.sign_open(key, campaign, customer)}"
    link = f"/v1/t/c/{tracking.sign_click(key, campaign, customer, 0)}"
    with client_at(brief_api, "198.51.100.3") as reader:
        assert reader.get(pixel).status_code == 200
        assert reader.get(link).status_code == 302
        first_answered = time.monotonic()
        for _ in range(3):
            assert reader.get(pixel).status_code == 200
            assert reader.get(link).headers["location"] == LINK
        if time.monotonic() - first_answered < WINDOW:  # the repeats were within the window
            assert recorded(brief_sender, customer, "EmailOpened") == 1
            assert recorded(brief_sender, customer, "EmailClicked") == 1
        # When the window has passed since the first ones were recorded
        time.sleep(max(0.0, first_answered + WINDOW + 0.2 - time.monotonic()))
        assert reader.get(pixel).status_code == 200
        assert reader.get(link).status_code == 302
    # Then a second open and a second click are recorded
    assert recorded(brief_sender, customer, "EmailOpened") == 2
    assert recorded(brief_sender, customer, "EmailClicked") == 2


def test_a_client_past_the_rate_limit_is_answered_429_with_retry_after(
    brief_api, brief_sender
) -> None:
    campaign, customer = emailed(brief_api, brief_sender)
    pixel = f"/v1/t/o/{tracking.sign_open(secret(brief_sender), campaign, customer)}"
    with (
        client_at(brief_api, "198.51.100.4") as greedy,
        client_at(brief_api, "198.51.100.5") as other,
    ):
        # Given a client that made as many requests as the limit allows, bad tokens included
        answers = [greedy.get(f"/v1/t/o/{'x' * 68}") for _ in range(LIMIT - 1)]
        answers.append(greedy.get(pixel))
        assert [r.status_code for r in answers] == [404] * (LIMIT - 1) + [200]
        # When it asks again, with a bad token or a good one
        for path in (f"/v1/t/o/{'x' * 68}", pixel):
            refused = greedy.get(path)
            # Then it is refused: 429, a problem, and when to come back
            assert (refused.status_code, refused.headers["content-type"]) == (429, PROBLEM)
            assert refused.json()["status"] == 429
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        # And another client is still answered
        assert other.get(pixel).status_code == 200
        assert other.get(f"/v1/t/o/{'x' * 68}").status_code == 404


def test_an_erased_customers_links_answer_as_links_never_issued(service, keys, api, sender) -> None:
    # Given an email sent to a customer who is then erased
    campaign, customer = emailed(api, sender)
    key = secret(sender)
    with service.client(keys["admin"]) as admin:
        erased = admin.post(f"/v1/customers/{customer}/erasure", json={"reason": "GDPR art. 17"})
    assert erased.status_code == 200, erased.text
    # When its pixel is fetched and its link followed
    with client_at(api, "198.51.100.9") as reader:
        answers = [
            reader.get(f"/v1/t/o/{tracking.sign_open(key, campaign, customer)}"),
            reader.get(f"/v1/t/c/{tracking.sign_click(key, campaign, customer, 0)}"),
        ]
    # Then both are a 404, as for a token never issued: nothing tells the customer was erased
    assert [(a.status_code, a.json()["detail"]) for a in answers] == [
        (404, "no such tracking link")
    ] * 2
    assert recorded(sender, customer, "EmailOpened") == 0
