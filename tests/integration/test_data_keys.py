"""Data keys in PostgreSQL: erasure destroys a customer's key and its converted leads', and
no reader decrypts with a key it held from before."""

from uuid import UUID, uuid4

import psycopg
import pytest

from api.bootstrap import Container
from commands.context import Target
from commands.customers import EraseCustomer
from commands.leads import CaptureLead, ConvertLead, QualifyLead
from domain.events.envelope import from_stored
from infra import timeline
from infra.data_keys import KeyRing, MasterKey, MasterKeyMismatch, check_master_key, keyring
from infra.stored_events import head, scan
from tests.integration.conftest import context, register


def _lead_converted_into(container: Container, email: str) -> UUID:
    lead_id, bus = uuid4(), container.bus
    bus.execute(Target(lead_id, creates=True), CaptureLead(name="Ada L.", email=email, attributes={"mobile": "+44 7700 900123"}), context())  # fmt: skip
    bus.execute(Target(lead_id), QualifyLead(), context())
    bus.execute(Target(lead_id), ConvertLead(), context())
    return lead_id


def test_after_erasure_the_timeline_shows_no_personal_field_even_to_a_reader_that_read_it(
    container: Container,
) -> None:
    email = f"ada.{uuid4().hex[:8]}@example.com"
    ada = register(container.bus, name="Ada Lovelace", email=email)
    lead_id = _lead_converted_into(container, email.upper())
    with container.pool.connection() as conn:
        before = [timeline.item(e) for e in timeline.customer_events(conn, ada)]
    assert before[0]["data"]["personal"]["name"] == "Ada Lovelace"
    assert any(e["stream_id"] == str(lead_id) for e in before)  # matched by email
    container.bus.execute(Target(ada), EraseCustomer(reason="GDPR art. 17"), context())
    with container.pool.connection() as conn:
        after = [timeline.item(e) for e in timeline.customer_events(conn, ada)]
        keys = conn.execute(
            "SELECT subject_id, wrapped_key FROM crm_data_keys WHERE subject_id = ANY(%s)",
            ([ada, lead_id],),
        ).fetchall()
    assert sorted(keys) == sorted([(ada, None), (lead_id, None)])
    assert [e["position"] for e in after[:-1]] == [e["position"] for e in before]
    assert after[-1]["type"] == "Customer.Erased" and not after[-1]["erased"]
    for item in after[:-1]:
        text = str(item["data"])
        assert "Ada" not in text and "7700" not in text and email not in text
    assert after[0]["erased"] and "personal" not in after[0]["data"]
    assert after[0]["data"]["tags"] == []  # non-personal fields stay


def test_a_reader_that_follows_the_log_forgets_its_keys_at_an_erasure(
    container: Container,
) -> None:
    ada = register(container.bus, name="Ada Byron")
    ring = keyring()
    with container.pool.connection() as conn:
        start = head(conn)
        ring.forget_all()
        [registered] = next(scan(conn, start - 1, start))  # caches Ada's key
        assert registered.data["personal"]["name"] == "Ada Byron"
        container.bus.execute(Target(ada), EraseCustomer(reason="GDPR art. 17"), context())
        erased = [e for batch in scan(conn, start - 1, head(conn)) for e in batch]
    assert erased[0].erased and erased[0].data["personal"] == {"name": ""}


def test_a_database_refuses_another_master_key(container: Container) -> None:
    with psycopg.connect(container.url, autocommit=True) as conn:
        check_master_key(conn, keyring().master)  # its own: accepted
        with pytest.raises(MasterKeyMismatch):
            check_master_key(conn, MasterKey(bytes(32)))


def test_a_fresh_read_sees_an_erasure_that_a_cached_key_would_hide(
    container: Container,
) -> None:
    ada = register(container.bus, name="Ada King")
    api_ring = KeyRing(keyring().master)  # another process's: it sees no event
    with container.pool.connection() as conn:
        raw = conn.execute(
            "SELECT notification_id, originator_id::text, originator_version, topic, state"
            " FROM crm_events WHERE originator_id = %s",
            (ada,),
        ).fetchall()
        events = [from_stored(*row[:4], bytes(row[4])) for row in raw]
        assert api_ring.reveal(conn, events)[0].data["personal"]["name"] == "Ada King"
        container.bus.execute(Target(ada), EraseCustomer(reason="GDPR art. 17"), context())
        assert api_ring.reveal(conn, events)[0].data["personal"]["name"] == "Ada King"  # stale
        assert api_ring.reveal(conn, events, fresh=True)[0].erased
