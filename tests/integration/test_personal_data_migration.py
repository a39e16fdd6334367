"""A store written before personal data was sealed is migrated once, in place.

`tests/fixtures/store_before_sealing.jsonl` holds the events a `crm serve` of the version
before sealing (commit 1377754) stored for a few HTTP commands: customers with personal
data, a profile change, an interaction, a purchase, a ticket with a reply, feedback, a lost
deal, leads converted (one matched to a customer by email) and one disqualified.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest

from api.bootstrap import prepare_database
from domain.events.catalogue import BY_NAME
from infra import timeline
from infra.data_keys import keyring
from infra.email_index import customer_with_digest
from infra.event_store import open_event_store
from infra.personal_data_migration import StoreNotSealed, encrypt_personal_data
from infra.sealing import is_sealed
from infra.settings import Settings
from projections.catalog import PROJECTIONS
from projections.customer_360 import queries as customer_360
from projections.rebuild import rebuild

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store_before_sealing.jsonl"
EVENTS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
ADA = UUID("dee3e679-7aab-4441-8f3f-70059a018ab8")
SEEDED = [b"Ada", b"ada@example.com", b"Lovelace", b"7946", b"Analytical", b"lavender"]
SEEDED += [b"Bob Candlewick", b"candlewick@", b"wedding", b"another shop", b"Carla", b"Dan only"]


@pytest.fixture
def old_store(new_database: Callable[[], str]) -> str:
    url = new_database()
    open_event_store(url, pool_size=1, create_table=True).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO crm_events (notification_id, originator_id, originator_version, topic,"
            " state) VALUES (%s, %s, %s, %s, %s)",
            [
                (e["position"], e["stream_id"], e["version"], e["topic"], e["state"].encode())
                for e in EVENTS
            ],
        )
    return url


def _stored(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT notification_id, topic, state FROM crm_events ORDER BY notification_id"
        ).fetchall()


def test_an_old_store_is_refused_until_migrated_then_every_personal_field_is_sealed(
    old_store: str,
) -> None:
    settings = Settings(database_url=old_store, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(StoreNotSealed):
        prepare_database(settings)
    prepare_database(settings, check_sealed=False)
    with psycopg.connect(old_store, autocommit=True) as conn:
        done = encrypt_personal_data(conn, keyring())
        again = encrypt_personal_data(conn, keyring())
    assert done.events_read == len(EVENTS) and done.events_sealed > 0 and done.keys_made >= 5
    assert again.events_sealed == 0 and again.keys_made == 0
    prepare_database(settings)  # now accepted
    for (_, topic, state), before in zip(_stored(old_store), EVENTS, strict=True):
        assert not any(seeded in bytes(state) for seeded in SEEDED)
        data, original = orjson.loads(state), json.loads(before["state"])
        personal = BY_NAME[topic.rpartition(":")[2]].personal_fields
        for name, value in original.items():
            if name in personal and value not in (None, "", {}, []):
                assert is_sealed(data[name])
            else:
                assert data[name] == value


def test_a_migrated_store_reads_as_it_did_and_its_emails_are_indexed(old_store: str) -> None:
    settings = Settings(database_url=old_store, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings, check_sealed=False)
    with psycopg.connect(old_store, autocommit=True) as conn:
        before = {e.position: e.data for e in timeline.customer_events(conn, ADA)}
        encrypt_personal_data(conn, keyring())
        after = {e.position: e.data for e in timeline.customer_events(conn, ADA)}
        assert after == before and len(after) == 4  # its own stream: no stream links here
        digest = keyring().master.blind_index("ADA@example.com ")
        assert customer_with_digest(conn, digest) == ADA
        rebuild(conn, PROJECTIONS["customer_360"])
        shown = customer_360.get(conn, ADA)
    assert shown is not None and shown["name"] == "Ada Lovelace"
    assert shown["email"] == "ada@example.com"
