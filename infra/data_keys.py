"""Data keys: one AES-256 key per data subject (a customer; a lead, whose key is its
customer's to destroy once it is converted), kept in PostgreSQL wrapped by the master key.

Erasing a customer destroys its key and its converted leads' (crypto-shredding): what they
sealed (`infra.sealing`) can no longer be read anywhere, in the store, in Kafka, in backups.
A database keeps a check value of the master key it was first used with, and every process
refuses to use it with another key (a mistyped or lost key would make data unreadable).
"""

import base64
import functools
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import Connection, Cursor
from psycopg.rows import tuple_row

from domain.events.envelope import Envelope
from domain.events.payloads import customer
from infra.postgres import SqlWrite
from infra.sealing import key_ids, unseal
from infra.settings import Settings

log = structlog.get_logger()

DDL = """
CREATE TABLE IF NOT EXISTS crm_data_keys (
    subject_id uuid PRIMARY KEY,
    wrapped_key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz
);
CREATE TABLE IF NOT EXISTS crm_master_key_check (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key_check text NOT NULL
);
"""
"""`wrapped_key` is null once the subject is erased."""

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "master.key"


class MasterKeyMismatch(RuntimeError):
    """The database was first used with another master key."""


class SubjectErased(Exception):  # noqa: N818 - a state, not a caller's error
    """A new personal datum for an erased subject: it has no key, and gets none."""

    def __init__(self, subject: UUID) -> None:
        super().__init__(f"data subject {subject} is erased")
        self.subject = subject


class MasterKey:
    """Wraps data keys (AES-256-GCM, bound to their subject) and derives the blind index."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes, not {len(raw)}")
        self._aead = AESGCM(raw)
        self._index_key = _derive(raw, b"crm blind index v1")
        self.check = _derive(raw, b"crm master key check v1").hex()
        """Tells keys apart without telling anything of them (kept in the database)."""

    def wrap(self, subject: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, subject.bytes)

    def unwrap(self, subject: UUID, wrapped: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject.bytes)

    def blind_index(self, email: str) -> str:
        """The keyed digest an email is looked up by (case and outer spaces ignored): equal
        emails give equal digests, and without the master key a digest tells nothing."""
        normal = email.strip().casefold().encode()
        return hmac.new(self._index_key, normal, hashlib.sha256).hexdigest()


def _derive(raw: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)


def load_master_key(settings: Settings) -> MasterKey:
    """CRM_MASTER_KEY, else CRM_MASTER_KEY_FILE, else CRM_DATA_DIR/master.key (generated,
    mode 0600, on first use)."""
    if settings.master_key is not None:
        return MasterKey(_decoded(settings.master_key.get_secret_value(), "CRM_MASTER_KEY"))
    path = settings.master_key_file or settings.data_dir / KEY_FILE_NAME
    if settings.master_key_file is None and not path.exists():
        _generate(path)
    return MasterKey(_decoded(path.read_text(), str(path)))


def _decoded(text: str, source: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ValueError(f"{source} is not base64") from None


def _generate(path: Path) -> None:
    """Writes a new random key to `path`, unless another process just did (then theirs
    stands): written to a private file first, then linked into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
    try:
        os.link(draft, path)
        log.warning("master key generated: keep a copy of it", path=str(path))
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def check_master_key(conn: Connection[Any], master: MasterKey) -> None:
    """Records the key's check value in a new database; refuses a database of another key."""
    cursor = _tuples(conn)
    cursor.execute(
        "INSERT INTO crm_master_key_check (key_check) VALUES (%s) ON CONFLICT DO NOTHING",
        (master.check,),
    )
    (stored,) = cursor.execute("SELECT key_check FROM crm_master_key_check").fetchone()  # type: ignore[misc]
    if not hmac.compare_digest(stored, master.check):
        raise MasterKeyMismatch(
            "this database was first used with another master key (CRM_MASTER_KEY,"
            " CRM_MASTER_KEY_FILE or CRM_DATA_DIR/master.key): give that key"
        )


def _tuples(conn: Connection[Any]) -> Cursor[tuple[Any, ...]]:
    """A cursor of plain tuples, whatever the connection's row factory."""
    return conn.cursor(row_factory=tuple_row)


def destroy_keys(customer_id: UUID) -> list[SqlWrite]:
    """The writes that erase a customer's key and its converted leads' keys (stored in the
    transaction that records the erasure); the customer never gets a key again."""
    return [
        (
            "INSERT INTO crm_data_keys (subject_id, wrapped_key, erased_at)"
            " VALUES (%s, NULL, now()) ON CONFLICT (subject_id)"
            " DO UPDATE SET wrapped_key = NULL, erased_at = now()",
            (customer_id,),
        ),
        (
            "UPDATE crm_data_keys SET wrapped_key = NULL, erased_at = now()"
            " WHERE subject_id IN (SELECT stream_id FROM crm_customer_streams"
            " WHERE customer_id = %s)",
            (customer_id,),
        ),
    ]


@dataclass(frozen=True)
class Sealing:
    """The keys a save seals with, the writes storing the new ones, and what to call once
    that save committed (the new keys are cached then, not before)."""

    keys: dict[UUID, AESGCM]
    writes: list[SqlWrite]
    remember: Callable[[], None]


Database = str
"""Keys are cached per database (its name and server)."""

T = TypeVar("T")
Reader = Callable[[Callable[[Connection[Any]], T]], T]
"""Runs a read on a connection (the writer's, with its deadline)."""
Stored = dict[UUID, bytes | None]
"""Wrapped data keys by subject (None: erased)."""


class KeyRing:
    """The data keys a process has used, unwrapped, cached per database.

    A destroyed key is cached as None. Only readers that follow every event use the cache:
    one that sees a `Customer.Erased` event, or records one, drops the whole cache
    (`forget_all`), so an erased customer's key is never used after its erasure is known.
    The others (the API's timeline and export, the process managers) read keys `fresh`."""

    def __init__(self, master: MasterKey, max_cached: int = 500_000) -> None:
        self.master = master
        self._max = max_cached
        self._cache: dict[tuple[Database, UUID], AESGCM | None] = {}
        self._checked: set[Database] = set()
        self._lock = threading.Lock()

    def ciphers(
        self, conn: Connection[Any], subjects: Iterable[UUID], *, fresh: bool = False
    ) -> dict[UUID, AESGCM | None]:
        """The subjects' keys (None: destroyed, or never made); `fresh`: read from the
        database, not the cache (for readers that do not follow every event, so would not
        see an erasure: the API, the process managers)."""
        db = self.database(conn)
        wanted = set(subjects)
        cached = {} if fresh else self._cache
        found = {s: cached[(db, s)] for s in wanted if (db, s) in cached}
        missing = wanted - found.keys()
        if missing:
            stored = self._stored(conn, missing)
            for subject in missing:
                wrapped = stored.get(subject)
                cipher = AESGCM(self.master.unwrap(subject, wrapped)) if wrapped else None
                found[subject] = cipher
                if subject in stored and not fresh:  # never made: maybe soon, not cached
                    self._remember(db, subject, cipher)
        return found

    def for_writing(
        self, db: Database, subjects: set[UUID], created: set[UUID], read: Reader[Stored]
    ) -> "Sealing":
        """The keys to seal the subjects' new personal data with, on database `db`. Subjects
        `created` by the save (their streams' first events) get new keys, and so do others
        that have none; the writes of the events' transaction store them. The others' keys
        come from the cache, else from one query through `read`. SubjectErased for an erased
        subject."""
        keys: dict[UUID, AESGCM] = {}
        wanted = subjects - created
        for subject in wanted:
            if (cipher := self._cache.get((db, subject))) is not None:
                keys[subject] = cipher
        if wanted - keys.keys():
            stored = read(lambda conn: self._stored(conn, wanted - keys.keys()))
            for subject, wrapped in stored.items():
                if wrapped is None:
                    raise SubjectErased(subject)
                keys[subject] = AESGCM(self.master.unwrap(subject, wrapped))
                self._remember(db, subject, keys[subject])
        writes, new = list[SqlWrite](), dict[UUID, AESGCM]()
        for subject in subjects - keys.keys():
            raw = AESGCM.generate_key(bit_length=256)
            writes.append(
                (
                    "INSERT INTO crm_data_keys (subject_id, wrapped_key) VALUES (%s, %s)",
                    (subject, self.master.wrap(subject, raw)),
                )
            )
            new[subject] = AESGCM(raw)

        def remember() -> None:
            for subject, cipher in new.items():
                self._remember(db, subject, cipher)

        return Sealing(keys | new, writes, remember)

    @staticmethod
    def _stored(conn: Connection[Any], subjects: set[UUID]) -> Stored:
        """The wrapped keys of the subjects that have a row (None: erased)."""
        rows = _tuples(conn).execute(
            "SELECT subject_id, wrapped_key FROM crm_data_keys WHERE subject_id = ANY(%s)",
            (list(subjects),),
        )
        return {row[0]: row[1] for row in rows.fetchall()}

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def reveal(
        self, conn: Connection[Any], events: Sequence[Envelope], *, fresh: bool = False
    ) -> list[Envelope]:
        """The events with their personal fields decrypted (`erased` where a key is gone).
        An erasure among them drops the cache: its keys are destroyed. `fresh`: as for
        `ciphers`."""
        if any(e.payload_type is customer.Erased for e in events):
            self.forget_all()
        needed = {k for e in events for k in key_ids(e.type, e.data)}
        if not needed:
            return list(events)
        keys = self.ciphers(conn, needed, fresh=fresh)
        revealed = []
        for event in events:
            data, erased = unseal(
                event.type, event.data, event.stream_id, event.stream_version, keys
            )
            revealed.append(
                event if data is event.data else replace(event, data=data, erased=erased)
            )
        return revealed

    def _remember(self, db: Database, subject: UUID, cipher: AESGCM | None) -> None:
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[(db, subject)] = cipher

    def database(self, conn: Connection[Any]) -> Database:
        """The database `conn` is on, as keys are cached by (its master key checked)."""
        info = conn.info
        db = f"{info.host}:{info.port}/{info.dbname}"
        if db not in self._checked:
            check_master_key(conn, self.master)
            self._checked.add(db)
        return db


@functools.cache
def keyring() -> KeyRing:
    """This process's key ring, with the master key the settings give."""
    return KeyRing(load_master_key(Settings()))
