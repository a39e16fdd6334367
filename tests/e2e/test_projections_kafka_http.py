"""GET /v1/projections and /readyz in Kafka mode tell the truth: a projection missing events
the store holds shows lag though its offsets are consumed, and a relay that reports a fault
makes the service not ready.

`crm serve` runs against the test broker; the relay's and the projector's rows are written
as they would have left them.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable

import psycopg

from infra import stored_events
from infra.kafka import partition_for
from projections.catalog import CUSTOMER_360, PROJECTIONS
from tests.e2e.conftest import serving

PARTITIONS = 4
FAULT = "topic has 4 partitions, the relay publishes to 12"


def test_a_stalled_partition_and_a_relay_fault_are_shown(
    new_database: Callable[[], str], kafka_bootstrap: str
) -> None:
    url, topic = new_database(), f"crm.events.e2e-{uuid.uuid4().hex[:10]}"
    with serving(url, kafka_bootstrap=kafka_bootstrap, kafka_topic=topic) as service:
        # Given 10 customers, every event published, every message consumed by customer_360,
        # whose busiest partition applied none of its events
        with service.client(service.create_key("service")) as api:
            for n in range(10):
                assert api.post("/v1/customers", json={"name": f"K{n}"}).status_code == 201
        with psycopg.connect(url, autocommit=True) as conn:
            head = stored_events.head(conn)
            sent: dict[int, list[int]] = defaultdict(list)
            for batch in stored_events.scan(conn, 0, head):
                for event in batch:
                    key = (event.customer_id or event.stream_id).encode()
                    sent[partition_for(key, PARTITIONS)].append(event.position)
            chain = [sent[p][-1] if sent[p] else 0 for p in range(PARTITIONS)]
            conn.execute(
                "INSERT INTO crm_relay (topic, position, partition_positions, checked_at)"
                " VALUES (%s, %s, %s, now())",
                (topic, head, chain),
            )
            stalled = max(sent, key=lambda p: len(sent[p]))
            for p, positions in sent.items():
                conn.execute(
                    "INSERT INTO crm_projection_offsets"
                    " (projection, topic, partition, next_offset, position)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (CUSTOMER_360.name, topic, p, len(positions), 0 if p == stalled else chain[p]),
                )
        with service.client(service.first_admin_key) as admin:
            # When an admin asks for the status
            body = admin.get("/v1/projections").json()
            # Then customer_360 lags by at least that partition's events
            assert (body["mode"], body["broker"], body["head"]) == ("kafka", "ok", head)
            items = {item["name"]: item for item in body["items"]}
            assert set(items) == set(PROJECTIONS)
            assert items[CUSTOMER_360.name]["lag_events"] >= len(sent[stalled]) > 0
            assert items[CUSTOMER_360.name]["lag_seconds"] > 0
            assert items[CUSTOMER_360.name]["stopped"] is None
            # And the relay is caught up, without fault
            relay = body["relay"]
            assert (relay["position"], relay["lag_events"], relay["fault"]) == (head, 0, None)
            assert 0 <= relay["checked_seconds_ago"] < 60
            ready = service.client().get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["relay"]) == (200, "ok")

            # When the relay reports that it cannot publish
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE crm_relay SET fault = %s", (FAULT,))
            # Then the service is not ready, and says why; the status shows it too
            ready = service.client().get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["relay"]) == (503, FAULT)
            assert admin.get("/v1/projections").json()["relay"]["fault"] == FAULT
