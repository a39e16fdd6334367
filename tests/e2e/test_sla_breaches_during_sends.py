"""SLA breaches are recorded while `crm automate` is busy sending a campaign: here the sender
waits out an SMTP server that is down, and a ticket past its due time still gets its
`Ticket.SlaBreached` (the recorder has a thread of its own)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Service, crm_env, free_port, start_service
from tests.e2e.test_campaign_sending import Automate, create_campaign
from tests.e2e.test_customers_http import events_of, register
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def stack(new_database, tmp_path_factory) -> Iterator[tuple[Service, Automate, Path]]:
    """`crm serve`, and a `crm automate` (not started) whose SMTP server is down."""
    service = start_service(crm_env(database_url=new_database(), port=str(free_port())))
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    env = service.env | {"CRM_SMTP_URL": down, "CRM_PUBLIC_URL": service.url}
    log = tmp_path_factory.mktemp("automate") / "automate.log"
    automate = Automate(env, log)
    yield service, automate, log
    assert automate.stop() == 0
    service.stop()


def test_a_breach_is_recorded_while_the_sender_waits_out_an_smtp_outage(stack) -> None:
    service, automate, log = stack
    auditor = service.client(service.create_key("auditor"))
    with service.client(service.create_key("service")) as api, auditor:
        # Given a campaign to send to a consenting customer, the SMTP server down
        register(api, name="Ada", email="ada@example.com", tags=["spring"],
                 consent={"email_marketing": True})  # fmt: skip
        campaign_id = create_campaign(api, "spring")
        assert api.post(f"/v1/campaigns/{campaign_id}/send").status_code == 202
        # And a high-priority complaint opened 10 minutes ago, unanswered past its 5 minutes
        policy = {"priority": "high", "first_response_minutes": 5, "resolution_minutes": 60,
                  "occurred_at": ago(60)}  # fmt: skip
        assert api.post("/v1/sla-policies", json=policy).status_code == 201
        customer_id = register(api, name="Ben")
        complaint = {"subject": "Late", "description": "Where is it?", "channel": "email",
                     "priority": "high", "occurred_at": ago(10)}  # fmt: skip
        opened = api.post(f"/v1/customers/{customer_id}/complaints", json=complaint)
        assert opened.status_code == 201, opened.text
        # When `crm automate` starts: its sender takes the campaign and waits on the server
        automate.start()
        # Then the breach is recorded all the same, while the campaign is still being sent
        wait_for(lambda: breaches(auditor, customer_id), seconds=30)
        wait_for(lambda: "SMTP unavailable" in log.read_text(), seconds=30)
        assert api.get(f"/v1/campaigns/{campaign_id}").json()["status"] == "sending"


def ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def breaches(api: httpx.Client, customer_id: str) -> list[dict]:
    return [e for e in events_of(api, customer_id) if e["type"] == "Ticket.SlaBreached"]
