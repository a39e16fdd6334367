"""The audit tree on a real PostgreSQL: extension, proofs that verify against signed heads,
tamper evidence (as the superuser would tamper: an UPDATE, a DELETE, two positions swapped, a
forged or re-signed head), bundles, and an auditor killed with SIGKILL mid-stream."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient
from psycopg import Connection

from api.bootstrap import Container
from api.cli.audit import signing_key_file
from commands.context import Target
from commands.customers import LogInteraction
from consumers.auditor import ForeignKey, extend
from infra.api_keys import Role, create_key
from infra.audit import bundle, tree_store
from infra.audit.exporting import export_bundle
from infra.audit.leaf import leaf_bytes
from infra.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from infra.audit.signing import (
    TreeHead,
    ensure_signing_key,
    head_signed_by,
    key_id,
    load_signing_key,
    public_key_text,
    sign_head,
)
from infra.audit.verification import verify_store
from infra.settings import Settings
from tests.e2e.conftest import crm_env
from tests.integration.conftest import context, crm_on, register
from tests.integration.in_process_app import serving

CRM = str(Path(sys.executable).parent / "crm")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = Settings(data_dir=tmp_path_factory.mktemp("audit"), _env_file=None)
    path = ensure_signing_key(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    return path


@pytest.fixture(scope="module")
def key(key_file: Path) -> Ed25519PrivateKey:
    return load_signing_key(key_file)


@pytest.fixture(scope="module")
def audited(new_database: Callable[[], str]) -> Iterator[Container]:
    """A store of 300 synthetic events and one customer's, on a database of its own."""
    with crm_on(new_database()) as crm:
        record_synthetic(crm, 300)
        yield crm


def record_synthetic(crm: Container, count: int, per_transaction: int = 100) -> None:
    """Stores events as the recorder stores them (table lock, positions in commit order)."""
    for start in range(0, count, per_transaction):
        stream = uuid4()
        events = [
            StoredEvent(stream, version, "tests:Synthetic", b'{"n": %d}' % (start + version))
            for version in range(1, min(per_transaction, count - start) + 1)
        ]
        crm.store.recorder.insert_events(events)


def extend_fully(conn: Connection[Any], key: Ed25519PrivateKey, batch: int = 128) -> None:
    while extend(conn, key, batch) is not None:
        pass


@pytest.fixture
def conn(audited: Container, key: Ed25519PrivateKey) -> Iterator[Connection[Any]]:
    """A superuser connection to the audited store, caught up; what a test changes is rolled
    back after it."""
    with psycopg.connect(audited.url, autocommit=True) as autocommit:
        extend_fully(autocommit, key)
    with psycopg.connect(audited.url) as conn:
        conn.execute("SET crm.rewrite_events = 'on'")  # the tamperer lifts the append-only guard
        yield conn
        conn.rollback()


def positions(conn: Connection[Any]) -> list[int]:
    rows = conn.execute("SELECT notification_id FROM crm_events ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def test_an_untouched_store_verifies_and_every_proof_holds(
    conn: Connection[Any], key: Ed25519PrivateKey
) -> None:
    verdict = verify_store(conn, key.public_key())
    heads = tree_store.heads(conn)
    assert verdict.verified, verdict.reason
    assert verdict.tree_size == heads[-1].tree_size == len(positions(conn))
    assert len(heads) > 2  # extended in batches of 128, a head each
    latest = heads[-1]
    proofs = tree_store.inclusion_proofs(conn, positions(conn), latest.tree_size)
    rows = conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM crm_events"
    ).fetchall()
    for position, stream, version, topic, state in rows:
        proof = proofs[position]
        leaf = leaf_hash(leaf_bytes(position, stream.bytes, version, topic, bytes(state)))
        assert proof.leaf_hash == leaf
        assert verify_inclusion(
            proof.leaf_index, latest.tree_size, leaf, proof.audit_path, latest.root_hash
        )
    for first in heads[:-1]:
        proof = tree_store.consistency_proof(conn, first.tree_size, latest.tree_size)
        assert verify_consistency(
            first.tree_size, latest.tree_size, first.root_hash, latest.root_hash, proof
        )


def test_nothing_new_signs_no_second_head(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    conn.commit()
    conn.autocommit = True
    before = tree_store.heads(conn)
    assert extend(conn, key) is None
    assert tree_store.heads(conn) == before


def test_an_updated_event_is_named(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    target = positions(conn)[57]
    conn.execute(
        "UPDATE crm_events SET state = replace(state::text, '5', '6')::bytea"
        " WHERE notification_id = %s",
        (target,),
    )
    verdict = verify_store(conn, key.public_key())
    assert not verdict.verified
    assert verdict.first_bad_position == target
    assert f"position {target}" in (verdict.reason or "")


def test_a_deleted_event_is_named(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    target = positions(conn)[120]
    conn.execute("DELETE FROM crm_events WHERE notification_id = %s", (target,))
    verdict = verify_store(conn, key.public_key())
    assert (verdict.verified, verdict.first_bad_position) == (False, target)


def test_two_swapped_positions_are_named(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    first, second = positions(conn)[10], positions(conn)[250]
    for old, new in ((first, -1), (second, first), (-1, second)):
        conn.execute(
            "UPDATE crm_events SET notification_id = %s WHERE notification_id = %s", (new, old)
        )
    verdict = verify_store(conn, key.public_key())
    assert (verdict.verified, verdict.first_bad_position) == (False, first)


def test_an_event_changed_with_its_leaf_and_subtrees_is_caught_by_the_signed_head(
    conn: Connection[Any], key: Ed25519PrivateKey
) -> None:
    """The administrator rewrites an event and the tree's tables to match: only the signed
    heads from before still tell."""
    target = positions(conn)[3]
    conn.execute(
        "UPDATE crm_events SET state = '{\"n\": 99}'::bytea WHERE notification_id = %s", (target,)
    )
    rows = conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM crm_events"
        " ORDER BY notification_id"
    ).fetchall()
    conn.execute("DELETE FROM crm_audit_leaves")
    conn.execute("DELETE FROM crm_audit_nodes")
    border = tree_store.frontier(conn, 0)
    leaves, nodes = [], []
    for position, stream, version, topic, state in rows:
        hashed = leaf_hash(leaf_bytes(position, stream.bytes, version, topic, bytes(state)))
        leaves.append((position, hashed))
        nodes.extend(border.append(hashed))
    tree_store.append(conn, 0, leaves, nodes)
    verdict = verify_store(conn, key.public_key())
    assert not verdict.verified
    assert verdict.first_bad_tree_head == tree_store.heads(conn)[0].tree_size
    assert "root" in (verdict.reason or "")


def test_a_forged_head_is_named(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    head = tree_store.heads(conn)[1]
    conn.execute(
        "UPDATE crm_audit_tree_heads SET root_hash = %s WHERE tree_size = %s",
        (bytes(32), head.tree_size),
    )
    verdict = verify_store(conn, key.public_key())
    assert (verdict.verified, verdict.first_bad_tree_head) == (False, head.tree_size)


def test_a_head_signed_by_another_key_is_named(
    conn: Connection[Any], key: Ed25519PrivateKey
) -> None:
    head = tree_store.heads(conn)[-1]
    other = sign_head(Ed25519PrivateKey.generate(), head.tree_size, bytes(32), head.timestamp)
    conn.execute(
        "UPDATE crm_audit_tree_heads SET root_hash = %s, key_id = %s, signature = %s"
        " WHERE tree_size = %s",
        (other.root_hash, other.key_id, other.signature, head.tree_size),
    )
    verdict = verify_store(conn, key.public_key())
    assert (verdict.verified, verdict.first_bad_tree_head) == (False, head.tree_size)


def test_a_wrong_subtree_hash_is_named(conn: Connection[Any], key: Ed25519PrivateKey) -> None:
    conn.execute(
        "UPDATE crm_audit_nodes SET hash = %s WHERE level = 3 AND node_index = 2", (bytes(32),)
    )
    verdict = verify_store(conn, key.public_key())
    assert (verdict.verified, verdict.first_bad_position) == (False, positions(conn)[16])


def test_crm_audit_verify_exits_1_naming_the_position(
    audited: Container, conn: Connection[Any], key_file: Path
) -> None:
    env = crm_env(database_url=audited.url, audit_signing_key_file=str(key_file))
    target = positions(conn)[200]
    conn.execute(
        "UPDATE crm_events SET topic = 'tests:Other' WHERE notification_id = %s", (target,)
    )
    conn.commit()
    try:
        done = _crm("audit", "verify", env=env)
        assert done.returncode == 1
        assert f"position {target}" in done.stderr
    finally:
        conn.execute(
            "UPDATE crm_events SET topic = 'tests:Synthetic' WHERE notification_id = %s", (target,)
        )
        conn.commit()


def test_a_bundle_verifies_offline_and_one_changed_byte_fails(
    audited: Container, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    customer = register(audited.bus, name="Grace", email=f"{uuid4()}@example.com")
    for channel in ("call", "email"):
        command = LogInteraction(channel=channel, direction="inbound", subject="asked")  # type: ignore[arg-type]
        audited.bus.execute(Target(customer), command, context())
    with psycopg.connect(audited.url, autocommit=True) as conn:
        extend_fully(conn, key)
        data = export_bundle(conn, customer, key)
    public = key.public_key()
    verdict = bundle.verify(data, public)
    assert (verdict.verified, verdict.events) == (True, 3), verdict.reason
    assert not bundle.verify(data, Ed25519PrivateKey.generate().public_key()).verified
    for offset in range(0, len(data), max(1, len(data) // 300)):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        assert not bundle.verify(bytes(changed), public).verified, f"byte {offset} changed"
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    public_text = public_key_text(public)
    offline = crm_env()  # no database, no key: the bundle and the public key alone
    args = ("audit", "verify-bundle", str(path), "--public-key", public_text)
    assert _crm(*args, env=offline).returncode == 0
    path.write_bytes(data.replace(b'"call"', b'"cali"', 1))
    failed = _crm(*args, env=offline)
    assert failed.returncode == 1, failed.stdout
    assert "Not verified" in failed.stderr


def test_an_auditor_killed_mid_stream_resumes_without_a_gap_or_a_second_head(
    new_database: Callable[[], str], key_file: Path, key: Ed25519PrivateKey
) -> None:
    """Events keep coming while the auditor is killed (SIGKILL) twice, each time once it
    has signed twice since it started."""
    with crm_on(new_database()) as crm, psycopg.connect(crm.url, autocommit=True) as conn:
        env = crm_env(database_url=crm.url, audit_signing_key_file=str(key_file))
        writing = threading.Event()
        writing.set()
        writer = threading.Thread(target=_keep_writing, args=(crm, writing))
        writer.start()
        try:
            for _ in range(2):
                auditor = subprocess.Popen([CRM, "audit", "run"], env=env)
                try:
                    signed = len(tree_store.heads(conn))
                    assert _waits_for(
                        lambda before=signed: len(tree_store.heads(conn)) > before + 1
                    )
                finally:
                    os.kill(auditor.pid, signal.SIGKILL)
                    auditor.wait()
        finally:
            writing.clear()
            writer.join()
        assert tree_store.extent(conn)[0] < len(positions(conn))  # killed before it caught up
        auditor = subprocess.Popen([CRM, "audit", "run"], env=env)
        try:
            assert _waits_for(lambda: tree_store.extent(conn)[0] == len(positions(conn)))
        finally:
            auditor.terminate()
            auditor.wait()
        heads = tree_store.heads(conn)
        sizes = [h.tree_size for h in heads]
        assert sizes == sorted(set(sizes))
        assert [h.timestamp for h in heads] == sorted(h.timestamp for h in heads)
        leaves = conn.execute(
            "SELECT leaf_index, position FROM crm_audit_leaves ORDER BY leaf_index"
        ).fetchall()
        assert [index for index, _ in leaves] == list(range(len(leaves)))
        assert [position for _, position in leaves] == positions(conn)
        verdict = verify_store(conn, key.public_key())
        assert verdict.verified, verdict.reason


def _keep_writing(crm: Container, writing: threading.Event) -> None:
    while writing.is_set():
        record_synthetic(crm, 200, per_transaction=200)
        time.sleep(0.02)


def _waits_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRM, *args], env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def http(audited: Container, key_file: Path) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    """The app over the audited store, and a key per role."""
    settings = Settings(
        database_url=audited.url,
        audit_signing_key_file=key_file,
        _env_file=None,
        **{f"{role}_rate_limit": "" for role in Role},  # type: ignore[arg-type]
    )
    with psycopg.connect(audited.url, autocommit=True) as conn:
        keys = {role: create_key(conn, role, f"{role}-audit")[0] for role in Role}
    with serving(audited, settings) as client:
        yield client, keys


def test_the_routes_serve_the_key_heads_and_proofs_that_verify(
    http: tuple[TestClient, dict[Role, str]], conn: Connection[Any], key: Ed25519PrivateKey
) -> None:
    client, keys = http
    auditor = {"Authorization": f"Bearer {keys[Role.AUDITOR]}"}
    assert client.get("/v1/audit/public-key", headers=auditor).json() == {
        "key_id": key_id(key.public_key()),
        "algorithm": "Ed25519",
        "public_key": public_key_text(key.public_key()),
    }
    head = TreeHead.from_json(client.get("/v1/audit/tree-heads/latest", headers=auditor).json())
    assert head_signed_by(key.public_key(), head)
    first = tree_store.heads(conn)[0]
    position = positions(conn)[5]
    proof = client.get(
        "/v1/audit/proofs/inclusion", params={"position": position}, headers=auditor
    ).json()
    assert proof["tree_size"] == head.tree_size
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    leaf = bytes.fromhex(proof["leaf_hash"])
    assert verify_inclusion(proof["leaf_index"], head.tree_size, leaf, path, head.root_hash)
    older = client.get(
        "/v1/audit/proofs/inclusion",
        params={"position": position, "tree_size": first.tree_size},
        headers=auditor,
    ).json()
    path = [bytes.fromhex(h) for h in older["audit_path"]]
    assert verify_inclusion(5, first.tree_size, leaf, path, first.root_hash)
    consistency = client.get(
        "/v1/audit/proofs/consistency",
        params={"first": first.tree_size, "second": head.tree_size},
        headers=auditor,
    ).json()
    assert (consistency["first"], consistency["second"]) == (first.tree_size, head.tree_size)
    hashes = [bytes.fromhex(h) for h in consistency["proof"]]
    assert verify_consistency(
        first.tree_size, head.tree_size, first.root_hash, head.root_hash, hashes
    )
    assert client.get("/v1/audit/verify", headers=auditor).json() == {
        "verified": True,
        "tree_size": head.tree_size,
        "first_bad_position": None,
        "first_bad_tree_head": None,
        "reason": None,
    }


def test_bad_parameters_are_named_and_absent_positions_are_404(
    http: tuple[TestClient, dict[Role, str]], conn: Connection[Any]
) -> None:
    client, keys = http
    auditor = {"Authorization": f"Bearer {keys[Role.ADMIN]}"}
    size = tree_store.heads(conn)[-1].tree_size
    for url, params, field in (
        ("/v1/audit/proofs/inclusion", {"position": "x"}, "position"),
        ("/v1/audit/proofs/inclusion", {"position": 1, "tree_size": 0}, "tree_size"),
        ("/v1/audit/proofs/inclusion", {"position": 1, "tree_size": size + 1}, "tree_size"),
        ("/v1/audit/proofs/consistency", {"first": 2, "second": 1}, "first"),
        ("/v1/audit/proofs/consistency", {"first": 1, "second": size + 1}, "second"),
        ("/v1/audit/proofs/consistency", {"first": 1}, "second"),
    ):
        answer = client.get(url, params=params, headers=auditor)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [f"query.{field}"]
    beyond = positions(conn)[-1] + 1000
    absent = client.get("/v1/audit/proofs/inclusion", params={"position": beyond}, headers=auditor)
    assert absent.status_code == 404
    for role in (Role.ANALYST, Role.SERVICE):
        headers = {"Authorization": f"Bearer {keys[role]}"}
        assert client.get("/v1/audit/tree-heads/latest", headers=headers).status_code == 403


def test_a_timeline_with_proofs_carries_each_events_inclusion_proof(
    audited: Container, http: tuple[TestClient, dict[Role, str]], key: Ed25519PrivateKey
) -> None:
    client, keys = http
    auditor = {"Authorization": f"Bearer {keys[Role.AUDITOR]}"}
    customer = register(audited.bus, name="Hedy", email=f"{uuid4()}@example.com")
    url = f"/v1/customers/{customer}/timeline"
    (unsigned,) = client.get(url, params={"proofs": "true"}, headers=auditor).json()["items"]
    assert unsigned["proof"] is None
    with psycopg.connect(audited.url, autocommit=True) as conn:
        extend_fully(conn, key)
        head = tree_store.latest_head(conn)
    assert head is not None
    (item,) = client.get(url, params={"proofs": "true"}, headers=auditor).json()["items"]
    (plain,) = client.get(url, headers=auditor).json()["items"]
    assert "proof" not in plain
    assert set(item["proof"]) == {"leaf_index", "tree_size", "audit_path"}
    assert item["proof"]["tree_size"] == head.tree_size
    with psycopg.connect(audited.url) as conn:
        row = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM crm_events"
            " WHERE notification_id = %s",
            (item["position"],),
        ).fetchone()
    assert row is not None
    leaf = leaf_hash(leaf_bytes(item["position"], row[0].bytes, row[1], row[2], bytes(row[3])))
    path = [bytes.fromhex(h) for h in item["proof"]["audit_path"]]
    assert verify_inclusion(item["proof"]["leaf_index"], head.tree_size, leaf, path, head.root_hash)


def test_an_auditor_with_another_key_signs_nothing(
    audited: Container, key: Ed25519PrivateKey
) -> None:
    record_synthetic(audited, 3)
    with psycopg.connect(audited.url, autocommit=True) as conn:
        before = tree_store.heads(conn)
        with pytest.raises(ForeignKey):
            extend(conn, Ed25519PrivateKey.generate())
        assert tree_store.heads(conn) == before
        assert extend(conn, key) is not None


def test_the_store_verifies_while_the_auditor_appends(
    audited: Container, key: Ed25519PrivateKey
) -> None:
    appending = threading.Event()
    appending.set()

    def append() -> None:
        with psycopg.connect(audited.url, autocommit=True) as conn:
            while appending.is_set():
                record_synthetic(audited, 40, per_transaction=40)
                extend(conn, key, batch=16)

    appender = threading.Thread(target=append)
    appender.start()
    try:
        for _ in range(5):
            with psycopg.connect(audited.url, autocommit=True) as conn:
                verdict = verify_store(conn, key.public_key())
            assert verdict.verified, verdict.reason
    finally:
        appending.clear()
        appender.join()


def test_crm_serve_refuses_a_key_that_did_not_sign_the_log(
    audited: Container, conn: Connection[Any], key_file: Path, tmp_path: Path
) -> None:
    assert tree_store.latest_head(conn) is not None
    settings = Settings(database_url=audited.url, audit_signing_key_file=key_file, _env_file=None)
    assert signing_key_file(settings, audited.url) == key_file
    elsewhere = Settings(database_url=audited.url, data_dir=tmp_path, _env_file=None)
    with pytest.raises(typer.Exit) as refused:
        signing_key_file(elsewhere, audited.url)  # a new key is made there, not the log's
    assert refused.value.exit_code == 2
