"""Erasure leaves nothing of the person readable, anywhere: on the production path (`crm
serve`, `crm relay`, `crm project` on the test broker), once the read models caught up with
the erasure, a `pg_dump` of the whole database, every message of the topic read from its
start, and every process's log hold none of the erased customer's personal data, searched
as bytes, while another customer's data is intact and the audit log verifies."""

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition

from tests.conftest import TEST_MASTER_KEY
from tests.e2e.conftest import CRM
from tests.e2e.kafka_stack import kafka_stack
from tests.waiting import wait_for

PG_DUMP = shutil.which("pg_dump") or "/usr/bin/pg_dump"


def _seed(api: httpx.Client, tag: str, name: str) -> tuple[str, list[str]]:
    """A customer with personal data in every kind of place: profile, custom field,
    interaction, ticket and reply, feedback, a lead converted into it by email, a lost deal.
    Returns its id and the unique texts it was given."""
    digits = str(int(tag, 16))[-8:]
    values = {
        "name": f"{name} Q{tag}",
        "email": f"{name.lower()}.{tag}@example.com",
        "phone": f"+44 20 {digits[:4]} {digits[4:]}",
        "line1": f"{tag} Analytical Row",
        "website": f"https://{tag}.example.org",
        "hobby": f"hobby-{tag}",
        "national_id": f"NID-{tag}",
        "interaction": f"call about {tag} candles",
        "notes": f"prefers {tag} evenings",
        "ticket": f"broken {tag} glass",
        "description": f"the {tag} lid cracked",
        "reply": f"sorry about the {tag} lid",
        "comment": f"loved {tag} lavender",
        "mobile": f"+44 7700 {digits[2:]}",
        "company": f"{tag} Engines Ltd",
        "deal": f"{name} {tag} wedding candles",
        "lost": f"chose {tag} elsewhere",
    }
    customer = api.post(
        "/v1/customers",
        json={
            "name": values["name"],
            "email": values["email"],
            "phone": values["phone"],
            "address": {"line1": values["line1"], "city": "London"},
            "website": values["website"],
            "hobbies": [values["hobby"]],
            "custom_fields": {"national_id": values["national_id"]},
            "consent": {"email_marketing": True},
        },
    )
    assert customer.status_code == 201, customer.text
    cid = customer.json()["id"]
    _ok(api.post(f"/v1/customers/{cid}/interactions", json={
        "channel": "call", "direction": "inbound",
        "subject": values["interaction"], "notes": values["notes"],
    }))  # fmt: skip
    _ok(api.post(f"/v1/customers/{cid}/purchases", json={
        "order_id": f"o-{tag}", "total": "42.00", "currency": "EUR",
    }))  # fmt: skip
    ticket = _ok(api.post(f"/v1/customers/{cid}/complaints", json={
        "subject": values["ticket"], "description": values["description"], "channel": "email",
    }))  # fmt: skip
    _ok(api.post(f"/v1/tickets/{ticket['ticket_id']}/replies", json={
        "author": "agent", "body": values["reply"],
    }))  # fmt: skip
    _ok(api.post(f"/v1/customers/{cid}/feedback", json={
        "rating": 4, "comment": values["comment"], "source": "survey",
    }))  # fmt: skip
    lead = _ok(api.post("/v1/leads", json={
        "name": values["name"], "email": values["email"].upper(), "company": values["company"],
        "attributes": {"mobile": values["mobile"]},
    }))  # fmt: skip
    _ok(api.post(f"/v1/leads/{lead['id']}/qualify", json={}))
    converted = _ok(api.post(f"/v1/leads/{lead['id']}/convert", json={}))
    assert converted["customer_id"] == cid  # matched by the email's blind index
    deal = _ok(api.post("/v1/deals", json={
        "customer_id": cid, "title": values["deal"], "amount": "900.00", "currency": "EUR",
        "stage": "proposal",
    }))  # fmt: skip
    _ok(api.post(f"/v1/deals/{deal['id']}/lost", json={"reason": values["lost"]}))
    return cid, list(values.values())


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def _caught_up(admin: httpx.Client) -> Callable[[], bool]:
    def check() -> bool:
        status = admin.get("/v1/projections").json()
        return all(item["lag_events"] == 0 for item in status["items"])

    return check


def _topic_bytes(bootstrap: str, topic: str) -> bytes:
    """Every key, header and value of the topic, read from its start."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends, read = consumer.end_offsets(partitions), bytearray()
        while any(consumer.position(p) < ends[p] for p in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    read += (record.key or b"") + (record.value or b"")
                    read += b"".join(name.encode() + value for name, value in record.headers)
        assert read, "the topic is empty"
        return bytes(read)
    finally:
        consumer.close()


def test_an_erased_customer_leaves_nothing_readable_and_the_store_still_verifies(
    new_database: Callable[[], str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    url, output = new_database(), list[str]()
    with (
        kafka_stack(url, kafka_bootstrap, tmp_path, output) as (service, _),
        service.client(service.first_admin_key) as admin,
        service.client(service_key := service.create_key("service")) as api,
    ):
        # Given two customers with personal data everywhere, read models caught up
        tag = uuid.uuid4().hex[:12]
        ada, erased = _seed(api, tag, "Ada")
        bob_tag = uuid.uuid4().hex[:12]
        bob, kept = _seed(api, bob_tag, "Bob")
        wait_for(_caught_up(admin), seconds=60)
        assert api.get(f"/v1/customers/{ada}").json()["name"] == f"Ada Q{tag}"
        # When an admin erases Ada, and the read models catch up
        _ok(admin.post(f"/v1/customers/{ada}/erasure", json={"reason": "GDPR art. 17, #42"}))
        wait_for(_caught_up(admin), seconds=60)
        dump = subprocess.run([PG_DUMP, "--no-owner", url], capture_output=True, check=True)
        topic = _topic_bytes(kafka_bootstrap, service.env["CRM_KAFKA_TOPIC"])
        timelines = {c: admin.get(f"/v1/customers/{c}/timeline").content for c in (ada, bob)}
        bob_shown = api.get(f"/v1/customers/{bob}").json()
        verified = subprocess.run(
            [CRM, "audit", "verify"], env=service.env, capture_output=True, text=True, check=False
        )
    logs = "".join(output).encode() + b"".join(f.read_bytes() for f in tmp_path.glob("*.log"))
    # Then nothing of Ada is left: not in the database, the topic, the logs or her timeline
    places = {"pg_dump": dump.stdout, "topic": topic, "logs": logs, "timeline": timelines[ada]}
    for place, content in places.items():
        found = [value for value in erased if value.encode() in content]
        assert found == [], f"{place} still holds {found}"
    shown_once = f"Admin API key: {service.first_admin_key}".encode()  # to the operator, at start
    assert logs.count(shown_once) == 1
    keys = [service.first_admin_key or "", service_key, TEST_MASTER_KEY]
    assert [k for k in keys if k.encode() in logs.replace(shown_once, b"")] == []  # nor any key
    # While Bob's data is intact: his 360 view, and every value in his timeline
    assert (bob_shown["name"], bob_shown["email"]) == (kept[0], kept[1])
    assert kept[0].encode() in dump.stdout  # the read models hold it: the search can find
    assert f"o-{bob_tag}".encode() in topic  # Bob's purchase: the topic was read through
    assert [value for value in kept if value.encode() not in timelines[bob]] == []
    # And the store still verifies against the audit log's signed heads
    assert verified.returncode == 0, verified.stdout + verified.stderr
