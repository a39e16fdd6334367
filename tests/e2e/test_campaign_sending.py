"""Campaigns sent for real: `crm serve` and `crm automate` processes, an SMTP server
(aiosmtpd) in this process, opens and clicks through the HTTP tracking routes."""

import asyncio
import email
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from consumers import campaign_email
from tests.e2e.conftest import CRM, Service, crm_env, free_port, start_service
from tests.e2e.test_customers_http import events_of, register
from tests.waiting import wait_for

LINKS = ("https://shop.example.com/spring?utm=mail&x=1", "https://blog.example.com/news")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
BODY = (
    "<html><body><p>Hello {{ customer.name }},</p>"
    f'<p><a href="{LINKS[0].replace("&", "&amp;")}">Shop</a> or <a href="{LINKS[1]}">read</a></p>'
    "</body></html>"
)


class Sink:
    """An aiosmtpd handler that keeps every message, optionally taking its time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: dict[str, list[EmailMessage]] = {}
        self.delay = 0.0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            for address in envelope.rcpt_tos:
                self.messages.setdefault(address, []).append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages.get(address, []))

    def count(self, domain: str) -> int:
        with self._lock:
            return sum(len(m) for a, m in self.messages.items() if a.endswith(f"@{domain}"))


class Automate:
    """A `crm automate` process logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env, self._log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.process = subprocess.Popen(
                [CRM, "automate"], env=self._env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        """kill -9."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    handler = Sink(free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def stack(new_database, sink: Sink, tmp_path_factory) -> Iterator[tuple[Service, Automate]]:
    """`crm serve` on a fresh database, and `crm automate` sending to the sink."""
    service = start_service(crm_env(database_url=new_database(), port=str(free_port())))
    smtp = f"smtp://127.0.0.1:{sink.port}"
    env = service.env | {"CRM_SMTP_URL": smtp, "CRM_PUBLIC_URL": service.url}
    automate = Automate(env, tmp_path_factory.mktemp("automate") / "automate.log")
    automate.start()
    yield service, automate
    assert automate.stop() == 0
    service.stop()


@pytest.fixture(scope="module")
def api(stack) -> Iterator[httpx.Client]:
    service, _ = stack
    key = service.create_key("service")
    with service.client(key) as client:
        yield client


def create_campaign(api: httpx.Client, tag: str, body_html: str = BODY) -> str:
    created = api.post(
        "/v1/campaigns",
        json={
            "name": "Spring",
            "subject": "Spring news for {{ customer.name }}",
            "body_html": body_html,
            "segment": {"tag": tag},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def sent_campaign(api: httpx.Client, campaign_id: str, seconds: float = 30) -> dict:
    wait_for(
        lambda: api.get(f"/v1/campaigns/{campaign_id}").json().get("status") == "sent", seconds
    )
    return api.get(f"/v1/campaigns/{campaign_id}").json()


def subscribers(api: httpx.Client, topic: str, **fields: dict) -> tuple[str, str, list[str]]:
    """Registers customers by name, tagged `topic-…`, with emails at a domain of the test's
    own, consenting to email marketing unless their `fields` say otherwise: (tag, domain,
    ids in the order given)."""
    tag, domain = f"{topic}-{uuid4().hex[:8]}", f"{uuid4().hex[:8]}.example.com"
    ids = [
        register(
            api,
            name=name,
            email=f"{name.lower()}@{domain}",
            tags=[tag],
            **({"consent": {"email_marketing": True}} | given),
        )  # fmt: skip
        for name, given in fields.items()
    ]
    return tag, domain, ids


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def test_a_campaign_reaches_consenting_customers_and_tracks_opens_and_clicks(
    stack, api, sink: Sink
) -> None:
    # Given tagged customers, one without email-marketing consent, and one not tagged
    tag, domain, (ada, bob, eve) = subscribers(
        api, "spring", Ada={}, Bob={}, Eve={"consent": {"email_marketing": False}}
    )
    register(api, name="Zed", email=f"zed@{domain}", consent={"email_marketing": True})
    # And a lead with Ada's email, scored on engagement
    rules = {"engagement_rules": [
        {"name": "Opens", "kind": "email_opened", "points": 1},
        {"name": "Clicks", "kind": "email_clicked", "points": 5},
    ]}  # fmt: skip
    with stack[0].client(stack[0].create_key("admin")) as admin:
        assert admin.put("/v1/lead-scoring/rules", json=rules).status_code == 200
    lead = api.post("/v1/leads", json={"name": "Ada", "email": f"ADA@{domain}", "source": "web"})
    assert lead.status_code == 201, lead.text
    campaign_id = create_campaign(api, tag)
    # When its send is requested
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    # Then the campaign ends sent, with its counts
    shown = sent_campaign(api, campaign_id)
    assert (shown["sent"], shown["suppressed"]) == (2, 1)
    # And Ada and Bob got one personalised email each, Eve and Zed none
    wait_for(lambda: sink.count(domain) == 2)
    assert sink.to(f"eve@{domain}") == sink.to(f"zed@{domain}") == []
    (message,) = sink.to(f"ada@{domain}")
    html = html_of(message)
    assert message["Subject"] == "Spring news for Ada"
    assert "<p>Hello Ada,</p>" in html
    # And its Message-ID is the one recorded in EmailSent
    (sent,) = [e for e in events_of(api, ada) if e["type"] == "Customer.EmailSent"]
    assert message["Message-ID"] == sent["data"]["message_id"]
    assert sent["data"]["links"] == list(LINKS)
    # And the links and the pixel point at the service
    clicks = campaign_email.links(html)
    assert [c.rsplit("/", 1)[0] for c in clicks] == [f"{api.base_url}/v1/t/c"] * 2
    pixel = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert pixel.startswith(f"{api.base_url}/v1/t/o/")
    assert f"Shop ({clicks[0]})" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # When Ada opens it (later than a machine would) and clicks its first link
    recorded = datetime.fromisoformat(sent["occurred_at"])
    time.sleep(max(0.0, 10.5 - (datetime.now(recorded.tzinfo) - recorded).total_seconds()))
    with httpx.Client(timeout=30, headers={"User-Agent": BROWSER}) as reader:
        opened = reader.get(pixel)
        clicked = reader.get(clicks[0])
    # Then the pixel is a GIF and the click redirects to the link sent
    assert (opened.status_code, opened.headers["content-type"]) == (200, "image/gif")
    assert (clicked.status_code, clicked.headers["location"]) == (302, LINKS[0])
    # And the metrics count them
    expected = {"sent": 2, "suppressed": 1, "opened": 1, "clicked": 1}

    def metrics() -> dict:
        shown = api.get(f"/v1/campaigns/{campaign_id}/metrics").json()
        return {k: shown[k] for k in expected}

    wait_for(lambda: metrics() == expected, 10)
    assert bob and eve
    # And the lead with Ada's email is scored on her open and her click
    lead_path = f"/v1/leads/{lead.json()['id']}"
    wait_for(lambda: api.get(lead_path).json().get("score", {}).get("points") == 1 + 5, 10)


def test_a_customer_the_template_does_not_render_for_is_suppressed_as_render_failed(
    api, sink: Sink
) -> None:
    # Given two subscribers, one whose data the template cannot take (a division by zero)
    tag, domain, (fine, broken) = subscribers(
        api, "sizes", Ada={"custom_fields": {"size": 4}}, Bob={"custom_fields": {"size": 0}}
    )
    campaign_id = create_campaign(api, tag, "<p>{{ 100 // customer.custom_fields.size }}</p>")
    # When its send is requested
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    # Then Ada gets her email and Bob's is recorded as suppressed: render-failed
    assert sent_campaign(api, campaign_id)["sent"] == 1
    wait_for(lambda: sink.count(domain) == 1)
    assert "<p>25</p>" in html_of(sink.to(f"ada@{domain}")[0])
    (suppressed,) = [e for e in events_of(api, broken) if e["type"] == "Customer.EmailSuppressed"]
    assert suppressed["data"]["reason"] == "render-failed"
    assert fine


def test_a_template_too_costly_for_one_customer_suppresses_only_that_customer(
    api, sink: Sink
) -> None:
    # Given three subscribers, and a template looping n * n times on each one's n: 10**10
    # iterations for Bob, a handful for Ada and Cy
    tag, domain, (ada, bob, cy) = subscribers(
        api,
        "loops",
        Ada={"custom_fields": {"n": 2}},
        Bob={"custom_fields": {"n": 100_000}},
        Cy={"custom_fields": {"n": 3}},
    )
    body = (
        "<p>Hi {{ customer.name }}{% for i in range(customer.custom_fields.n) %}"
        "{% for j in range(customer.custom_fields.n) %}{% endfor %}.{% endfor %}</p>"
    )
    campaign_id = create_campaign(api, tag, body)
    # When its send is requested
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    # Then the campaign ends, sent to Ada and Cy, with Bob suppressed: render-failed
    shown = sent_campaign(api, campaign_id, seconds=20)
    assert (shown["sent"], shown["suppressed"]) == (2, 1)
    wait_for(lambda: sink.count(domain) == 2)
    assert "<p>Hi Ada..</p>" in html_of(sink.to(f"ada@{domain}")[0])
    assert "<p>Hi Cy...</p>" in html_of(sink.to(f"cy@{domain}")[0])
    assert sink.to(f"bob@{domain}") == []
    (suppressed,) = [e for e in events_of(api, bob) if e["type"] == "Customer.EmailSuppressed"]
    assert suppressed["data"]["reason"] == "render-failed"
    assert ada and cy


def test_a_link_to_a_customers_field_cannot_become_a_script(api, sink: Sink) -> None:
    # Given a subscriber whose site field is a script URL, and a campaign linking to it
    site = " JaVaScRiPt:alert(document.domain)"
    tag, domain, _ = subscribers(api, "sites", Eve={"custom_fields": {"site": site}})
    body = '<p><a href="{{ customer.custom_fields.site }}">Your site</a></p>'
    campaign_id = create_campaign(api, tag, body)
    # When it is sent
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    assert sent_campaign(api, campaign_id)["sent"] == 1
    # Then Eve's email has the link's text, going nowhere
    wait_for(lambda: sink.count(domain) == 1)
    html = html_of(sink.to(f"eve@{domain}")[0])
    assert "<p><a>Your site</a></p>" in html
    assert "script" not in html.lower()


def test_kill_9_of_the_sender_mid_campaign_resends_at_most_a_few_and_records_once(
    api, stack, sink: Sink
) -> None:
    service, automate = stack
    # Given 300 tagged customers with consent and 20 without
    tag, domain = f"mass-{uuid4().hex[:8]}", f"{uuid4().hex[:8]}.example.com"

    def one(n: int) -> str:
        return register(
            api, name=f"Customer {n}", email=f"c{n}@{domain}", tags=[tag],
            consent={"email_marketing": n < 300},
        )  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        customers = list(pool.map(one, range(320)))
    campaign_id = create_campaign(api, tag)
    sink.delay = 0.005
    try:
        # When the sender is killed with -9 once a third of the emails went out
        assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
        wait_for(lambda: sink.count(domain) >= 100, 30)
        automate.kill()
        delivered = sink.count(domain)
        assert delivered < 300, "the campaign ended before the kill"
        # And started again
        automate.start()
        shown = sent_campaign(api, campaign_id)
    finally:
        sink.delay = 0.0
    # Then every consenting customer got an email, few twice, and the counts are exact
    assert (shown["sent"], shown["suppressed"]) == (300, 20)
    received = {f"c{n}@{domain}": len(sink.to(f"c{n}@{domain}")) for n in range(320)}
    assert all(received[f"c{n}@{domain}"] >= 1 for n in range(300))
    assert all(received[f"c{n}@{domain}"] == 0 for n in range(300, 320))
    assert sum(received.values()) - 300 <= 60  # at most the deliveries since the last record
    # And each customer has exactly one EmailSent or EmailSuppressed for it
    assert emails_recorded(service, campaign_id) == {c: 1 for c in customers}


def emails_recorded(service: Service, campaign_id: str) -> dict[str, int]:
    with psycopg.connect(service.env["CRM_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT originator_id::text, state FROM crm_events"
            " WHERE topic LIKE %s OR topic LIKE %s",
            ("%Customer.EmailSent", "%Customer.EmailSuppressed"),
        ).fetchall()
    counts: dict[str, int] = {}
    for customer, state in rows:
        if json.loads(bytes(state))["campaign_id"] == campaign_id:
            counts[customer] = counts.get(customer, 0) + 1
    return counts


def test_automate_refuses_to_start_without_a_public_url() -> None:
    env = crm_env(smtp_url="smtp://127.0.0.1:25")
    done = subprocess.run([CRM, "automate"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CRM_PUBLIC_URL" in done.stdout


def test_a_campaign_to_an_erased_customer_completes_without_them(stack, api, sink: Sink) -> None:
    # Given two tagged subscribers, one of whom is then erased (their 360 row stays, blank)
    tag, domain, (ada, bob) = subscribers(api, "erased", Ada={}, Bob={})
    service, _ = stack
    with service.client(service.create_key("admin")) as admin:
        erased = admin.post(f"/v1/customers/{ada}/erasure", json={"reason": "GDPR art. 17"})
    assert erased.status_code == 200, erased.text
    campaign_id = create_campaign(api, tag)
    # When its send is requested
    assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
    # Then it completes, and only Bob got the email
    shown = sent_campaign(api, campaign_id)
    assert shown["sent"] == 1
    wait_for(lambda: sink.count(domain) == 1)
    assert sink.to(f"ada@{domain}") == []
    assert len(sink.to(f"bob@{domain}")) == 1, bob
