"""`crm replay customer_360` rebuilds the read model from the event store while the API serves."""

import subprocess

import psycopg
from psycopg.rows import dict_row

from tests.e2e.conftest import CRM


def table(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM customer_360 ORDER BY customer_id").fetchall()


def test_replay_rebuilds_an_equal_table_and_says_so(service, api) -> None:
    # Given customers with purchases, caught up in the live read model
    for n in range(3):
        customer_id = api.post("/v1/customers", json={"name": f"C{n}", "tags": ["replay"]}).json()[
            "id"
        ]
        api.post(
            f"/v1/customers/{customer_id}/purchases",
            json={"order_id": "r", "total": "3", "currency": "EUR"},
        )
    url = service.env["CRM_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        (head,) = conn.execute("SELECT max(notification_id) FROM crm_events").fetchone()
        while (
            conn.execute(
                "SELECT position FROM crm_projections WHERE name = 'customer_360'"
            ).fetchone()[0]
            < head
        ):
            conn.commit()
    live = table(url)
    # When
    done = subprocess.run(
        [CRM, "replay", "customer_360"], env=service.env, capture_output=True, text=True, check=True
    )
    # Then
    assert "customer_360 rebuilt up to position" in done.stdout
    assert table(url) == live
    assert api.get("/v1/customers", params={"tag": "replay"}).json()["items"]


def test_replay_of_an_unknown_projection_fails_clearly(service) -> None:
    done = subprocess.run(
        [CRM, "replay", "nope"], env=service.env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "unknown projection" in done.stdout + done.stderr
