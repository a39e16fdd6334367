"""The event store: the `eventsourcing` Application on PostgreSQL, events as plain JSON."""

import contextlib
import copy
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import orjson
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InterfaceError,
    Mapper,
    OperationalError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic, resolve_topic, retry
from psycopg import sql
from pydantic import BaseModel

from domain.events.catalogue import BY_NAME, EventEntry
from infra.data_keys import keyring
from infra.postgres import (
    CHECKOUT_TIMEOUT_SECONDS,
    RECONNECT_SECONDS,
    SqlWrite,
    eventsourcing_env,
)
from infra.sealing import SUBJECT_FIELDS, key_ids, seal, subject_of, unseal

EVENTS_TABLE = "crm_events"
"""Stored events; `notification_id` is the global position."""
CACHED_AGGREGATES = 20_000
"""Aggregates a process keeps at their latest version, least recently used dropped first."""


class OrjsonTranscoder(Transcoder):
    """JSON bytes via orjson; pydantic gives the types back on reading."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to stored events and back; personal fields are sealed
    (`infra.sealing`) with the keys in `sealing_keys`, which the saver sets to the keys of
    the subjects of the events it saves."""

    sealing_keys: Mapping[UUID, AESGCM] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        data = domain_event.model_dump(mode="json")
        entry = entry_of(type(domain_event))
        if entry is not None and entry.personal_fields:
            stream, version = str(domain_event.originator_id), domain_event.originator_version
            subject = subject_of(data, stream)
            data = seal(entry, data, stream, version, self.sealing_keys[subject], subject)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(data),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        [event] = domain_events(
            [
                (
                    stored_event.originator_id,
                    stored_event.originator_version,
                    stored_event.topic,
                    stored_event.state,
                )
            ],
            self.open_keys,
        )
        return event

    def open_keys(self, key_ids: set[UUID]) -> Mapping[UUID, AESGCM | None]:
        """The keys to open sealed fields with (the sealing keys, unless set otherwise)."""
        return self.sealing_keys

    @staticmethod
    def from_data(topic: str, data: dict[str, Any]) -> Any:
        """The domain event of a stored topic and (unsealed) state."""
        cls: type[BaseModel] = resolve_topic(topic)
        return cls.model_validate(data)


def entry_of(event_class: type) -> EventEntry | None:
    """The catalogue entry of a domain event class."""
    try:
        return _ENTRIES[event_class]
    except KeyError:
        entry = _ENTRIES[event_class] = BY_NAME.get(get_topic(event_class).rpartition(":")[2])
        return entry


_ENTRIES: dict[type, EventEntry | None] = {}


def subjects_of(events: Iterable[Any]) -> set[UUID]:
    """The subjects whose keys sealing these domain events needs."""
    subjects = set()
    for event in events:
        entry = entry_of(type(event))
        if entry is not None and entry.personal_fields:
            data = {f: getattr(event, f, None) for f in SUBJECT_FIELDS}
            subjects.add(subject_of(data, str(event.originator_id)))
    return subjects


class UncertainCommit(Exception):  # noqa: N818 - an outcome unknown, not a caller's error
    """The connection failed while its COMMIT was under way: transaction `xid` may be
    recorded or not; trying again blindly would record it twice if it did commit. Ask
    `commit_outcome` on another connection."""

    def __init__(self, xid: str, probe: StoredEvent | None) -> None:
        super().__init__(f"the connection failed during the COMMIT of transaction {xid}")
        self.xid = xid
        self.probe = probe
        """The transaction's first event: it is stored, as it is, if the transaction
        committed (None: the transaction recorded no event)."""


class CrmRecorder(PostgresApplicationRecorder):
    """Application recorder that saves events, and `writes` beside them, in one transaction.

    Commands use `writes` to record idempotency keys and uniqueness claims atomically with
    their events: either all of it is stored, or none of it. The transaction takes the same
    table lock as the library's (it keeps positions in commit order) and sends the same
    NOTIFY, with less client work per batch: BEGIN, the transaction's id, lock timeout, lock
    and NOTIFY go as one simple query, equal writes as one `executemany`, and the events as
    four binary arrays (the library's text dump of composite values escapes every byte of
    every event). Measured: docs/decisions/0007-event-store-recorder.md.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        begin = [sql.SQL("BEGIN"), sql.SQL("SELECT pg_current_xact_id()::text AS xid")]
        self._begin = sql.SQL("; ").join(begin)
        self._begin_lock_and_notify = sql.SQL("; ").join(
            [
                *begin,
                *self.lock_table_statements,
                sql.SQL("NOTIFY {}").format(sql.Identifier(self.channel_name)),
            ]
        )
        self._insert_arrays = sql.SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING notification_id"
        ).format(table=sql.Identifier(self.datastore.schema, self.events_table_name))

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        writes: Sequence[SqlWrite] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        """Saves the events and the writes in one transaction, tried once: the caller knows
        whether another try is safe. If the connection fails during the COMMIT, raises
        `UncertainCommit` with the transaction's id (taken in the BEGIN's round trip). Each
        statement before it waits for its answer, so a failure there means that no COMMIT
        was sent and nothing was recorded (the error is raised as it is)."""
        grouped: dict[str, list[Sequence[Any]]] = {}
        for statement, params in writes:
            grouped.setdefault(statement, []).append(params)
        with self.datastore.get_connection() as conn:
            committing = False
            try:
                begun = conn.execute(self._begin_lock_and_notify if stored_events else self._begin)
                begun.nextset()  # past BEGIN's result, to the transaction's id
                xid = begun.fetchone()["xid"]  # type: ignore[index]
                for statement, each in grouped.items():
                    conn.cursor().executemany(statement, each)
                inserted = (
                    conn.execute(
                        self._insert_arrays,
                        (
                            [e.originator_id for e in stored_events],
                            [e.originator_version for e in stored_events],
                            [e.topic for e in stored_events],
                            [e.state for e in stored_events],
                        ),
                        binary=True,
                    ).fetchall()
                    if stored_events
                    else []
                )
                committing = True
                conn.execute("COMMIT")
            except BaseException as error:
                if committing and conn.broken:  # the server may have committed, unheard
                    raise UncertainCommit(
                        xid, stored_events[0] if stored_events else None
                    ) from error
                with contextlib.suppress(psycopg.Error):  # a broken connection rolled back
                    conn.execute("ROLLBACK")
                raise
            return [row["notification_id"] for row in inserted]


class EventStore(Application[UUID]):
    """The CRM's event store application (table `crm_events`)."""

    name = "crm"

    def construct_mapper(self) -> Mapper[UUID]:
        mapper = PydanticMapper(transcoder=OrjsonTranscoder())
        mapper.open_keys = self._open_keys  # type: ignore[method-assign]
        return mapper

    def _open_keys(self, key_ids: set[UUID]) -> Mapping[UUID, AESGCM | None]:
        """The keys of the library's own reads (`repository.get`, `events.get`)."""
        with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            return keyring().ciphers(conn, key_ids)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's reads
    def get_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """`read_many`, tried again while PostgreSQL is unreachable (up to ten times)."""
        return self.read_many(ids)

    def read_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Current copies of many aggregates, read in one query, tried once.

        Cached aggregates are brought forward with the events stored since (by this or any
        other process); the others are built from all their events. Absent ids are left out.
        """
        cache, wanted = self.repository.cache, list(ids)
        known: dict[UUID, Any] = {}
        for aggregate_id in wanted if cache else ():
            with contextlib.suppress(KeyError):
                known[aggregate_id] = cache.get(aggregate_id)  # type: ignore[union-attr]
        versions = [known[i].version if i in known else 0 for i in wanted]
        with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(_NEWER_EVENTS, (wanted, versions)).fetchall()
            events = domain_events(rows, functools.partial(keyring().ciphers, conn))
        found = {i: copy.deepcopy(aggregate) for i, aggregate in known.items()}
        for event in events:
            found[event.originator_id] = event.mutate(found.get(event.originator_id))
        moved = {event.originator_id for event in events}
        for aggregate_id in moved if cache else ():
            cache.put(aggregate_id, copy.deepcopy(found[aggregate_id]))  # type: ignore[union-attr]
        return found


_NEWER_EVENTS = (
    # One index lookup per aggregate: OFFSET 0 keeps the planner from turning the lateral
    # subquery into a hash join over the whole events table.
    "SELECT e.originator_id, e.originator_version, e.topic, e.state"
    " FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, version)"
    f" CROSS JOIN LATERAL (SELECT * FROM {EVENTS_TABLE}"
    " WHERE originator_id = k.id AND originator_version > k.version OFFSET 0) AS e"
    " ORDER BY e.originator_id, e.originator_version"
)


def commit_outcome(conn: psycopg.Connection[Any], uncertain: UncertainCommit) -> bool | None:
    """Whether the transaction whose COMMIT was cut off committed; None while it may still be
    committing (`pg_xact_status` says 'in progress').

    The answer is whether its first event is stored, byte for byte, not the transaction's
    status: after a crash, an id whose transaction never reached the write-ahead log is given
    to a new transaction, whose status would be taken for this one's. A transaction that
    recorded no event is taken as rolled back: what it wrote is keyed (idempotency records,
    claims, links), so its retry conflicts with anything it did store."""
    try:
        (status,) = conn.execute("SELECT pg_xact_status(%s::xid8)", (uncertain.xid,)).fetchone()
    except psycopg.errors.InvalidParameterValue:  # "in the future": not given out since a crash
        conn.rollback()
        status = None
    if status == "in progress":
        return None
    probe = uncertain.probe
    if probe is None:
        return False
    row = conn.execute(
        f"SELECT state FROM {EVENTS_TABLE} WHERE originator_id = %s AND originator_version = %s",
        (probe.originator_id, probe.originator_version),
    ).fetchone()
    return row is not None and bytes(row[0]) == probe.state


def load_aggregate(conn: psycopg.Connection[Any], aggregate_id: UUID) -> Any | None:
    """An aggregate's current state, built from its stored events read on `conn` (for reads
    in processes that have no event store application, such as the API); None if none."""
    rows = conn.execute(
        "SELECT originator_id, originator_version, topic, state"  # noqa: S608
        f" FROM {EVENTS_TABLE} WHERE originator_id = %s ORDER BY originator_version",
        (aggregate_id,),
    ).fetchall()
    aggregate = None
    for event in domain_events(rows, functools.partial(keyring().ciphers, conn)):
        aggregate = event.mutate(aggregate)
    return aggregate


KeysOf = Callable[[set[UUID]], Mapping[UUID, AESGCM | None]]
"""Gives the keys of key ids (None: destroyed)."""


def domain_events(rows: Sequence[Any], open_keys: KeysOf) -> list[Any]:
    """The domain events of stored rows (stream id, version, topic, state: by position or
    by name), their personal fields opened with the keys `open_keys` gives for key ids. An
    event of a type without personal fields is validated from its JSON bytes as they are (a
    customer's purchases, most of a long stream, load in half the time)."""
    events: list[Any] = []
    sealable = []
    for row in rows:
        stream_id, version, topic, state = (
            (row[c] for c in _ROW_COLUMNS) if isinstance(row, dict) else row
        )
        name = topic.rpartition(":")[2]
        entry = BY_NAME.get(name)
        if entry is not None and not entry.personal_fields:
            events.append(resolve_topic(topic).model_validate_json(state))
            continue
        sealable.append((len(events), str(stream_id), version, name, topic, orjson.loads(state)))
        events.append(None)
    needed = {k for _, _, _, name, _, data in sealable for k in key_ids(name, data)}
    ciphers = open_keys(needed) if needed else {}
    for at, stream_id, version, name, topic, data in sealable:
        opened = unseal(name, data, stream_id, version, ciphers)[0]
        events[at] = PydanticMapper.from_data(topic, opened)
    return events


_ROW_COLUMNS = ("originator_id", "originator_version", "topic", "state")


def open_event_store(
    url: str,
    pool_size: int,
    *,
    create_table: bool = False,
    checkout_timeout: float = CHECKOUT_TIMEOUT_SECONDS,
    cached_aggregates: int = CACHED_AGGREGATES,
) -> EventStore:
    """Connects the event store to PostgreSQL. Only `prepare_database`, which holds the
    migration lock, creates its table: processes starting together would otherwise replace
    its trigger function at the same time and fail ("tuple concurrently updated"). A
    connection checkout waits at most `checkout_timeout` seconds. The cache keeps
    `cached_aggregates` aggregates (at least one)."""
    env = eventsourcing_env(url, pool_size, checkout_timeout) | {
        "CREATE_TABLE": "y" if create_table else "n",
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": get_topic(CrmRecorder),
        "AGGREGATE_CACHE_MAXSIZE": str(max(1, cached_aggregates)),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    store = EventStore(env=env)
    store.recorder.datastore.pool.reconnect_timeout = RECONNECT_SECONDS  # type: ignore[attr-defined]
    store.recorder.datastore.pool.timeout = checkout_timeout  # type: ignore[attr-defined]
    return store
