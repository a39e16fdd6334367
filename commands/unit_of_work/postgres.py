"""The unit of work on PostgreSQL: the event store's transaction, with the side tables.

A save is one transaction: the aggregates' events (the event store serialises inserts
with a table lock held through the commit), then the customer-stream links, the unique
claims and the idempotency records (`commands.side_tables`). Every checkout of a
connection waits at most until the deadline of the commands being recorded (`until`),
but at least MIN_CHECKOUT_SECONDS: a database that answers is used, however long the
commands waited behind others.
"""

import contextlib
import math
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError
from psycopg_pool import ConnectionPool

from commands import side_tables
from commands.unit_of_work import (
    Changes,
    Claim,
    CommitCutOff,
    Conflict,
    Key,
    StoredOutcome,
    Unreachable,
)
from domain.aggregate import Aggregate
from domain.sales_team import SALES_TEAM_ID
from infra import email_index
from infra.customer_streams import owned_streams
from infra.data_keys import keyring
from infra.event_store import EventStore, UncertainCommit, commit_outcome, subjects_of
from infra.postgres import UNREACHABLE

T = TypeVar("T")
MIN_CHECKOUT_SECONDS = 0.5
_CONFLICTS = {
    side_tables.IDEMPOTENCY_CONSTRAINT: "idempotency-key",
    side_tables.CLAIMS_CONSTRAINT: "claim",
}


class PostgresCommitCutOff(CommitCutOff):
    """A cut-off COMMIT, with what PostgreSQL is asked about it."""

    def __init__(self, uncertain: UncertainCommit) -> None:
        super().__init__(str(uncertain))
        self.uncertain = uncertain


@contextlib.contextmanager
def _reaching() -> Iterator[None]:
    """PostgreSQL being away is raised as `Unreachable`."""
    try:
        yield
    except UNREACHABLE as error:
        raise Unreachable(str(error)) from error


class PostgresUnitOfWork:
    """`UnitOfWork` on the event store and a pool for the side tables."""

    def __init__(self, store: EventStore, pool: ConnectionPool, database_timeout: float) -> None:
        self._store = store
        self._keys = keyring()
        self._db: str | None = None
        self._pool = pool
        self._store_pool: ConnectionPool = store.recorder.datastore.pool  # type: ignore[attr-defined]
        self._timeout = database_timeout
        self._deadline = math.inf

    def aggregates(self, ids: Collection[UUID]) -> dict[UUID, Aggregate]:
        with _reaching(), self._store_checkouts():
            return self._store.read_many(set(ids))

    def held_claims(self, claims: Sequence[Claim]) -> set[Claim]:
        return self._read(lambda conn: side_tables.held_claims(conn, list(claims)))

    def stored_outcomes(self, keys: Sequence[Key]) -> dict[Key, StoredOutcome]:
        return self._read(lambda conn: side_tables.stored_outcomes(conn, keys))

    def customer_with_email(self, email: str) -> UUID | None:
        digest = self._keys.master.blind_index(email)
        return self._read(lambda conn: email_index.customer_with_digest(conn, digest))

    def save(self, changes: Changes) -> None:
        aggregates = changes.aggregates.values()
        subjects = subjects_of(e for a in aggregates for e in a.pending_events)
        created = {
            a.id for a in aggregates if a.pending_events[:1] and a.version == len(a.pending_events)
        }
        try:
            with _reaching(), self._store_checkouts():
                sealing = self._keys.for_writing(self._database(), subjects, created, self._read)
                self._store.mapper.sealing_keys = sealing.keys  # type: ignore[attr-defined]
                emails = email_index.writes(aggregates, self._keys.master.blind_index)
                writes = [*sealing.writes, *emails, *side_tables.writes(changes)]
                self._store.save(*aggregates, writes=writes)
            sealing.remember()
            if changes.erased:  # destroyed keys may be cached, and what aggregates held
                self._keys.forget_all()
                self._forget_erased(changes.erased)
        except IntegrityError as error:
            constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
            raise Conflict(_CONFLICTS.get(constraint, "aggregate")) from error  # type: ignore[arg-type]
        except UncertainCommit as uncertain:
            raise PostgresCommitCutOff(uncertain) from uncertain

    def committed(self, cut: CommitCutOff, deadline: float) -> bool | None:
        assert isinstance(cut, PostgresCommitCutOff)
        with contextlib.suppress(psycopg.Error), self._connect(deadline) as conn:
            return commit_outcome(conn, cut.uncertain)
        return None

    def reachable(self, deadline: float) -> bool:
        try:
            with self._connect(deadline) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        for pool in (self._pool, self._store_pool):
            pool.check()
        return True

    def _forget_erased(self, customers: list[UUID]) -> None:
        """Drops from the cache what held the erased customers' personal data in clear: their
        converted leads, and the sales team (their emails' digests). Read again, their events
        give blanks. (Tickets and deals hold none; the customer holds none once erased.)"""
        owned = self._read(lambda conn: owned_streams(conn, customers))
        self.forget([SALES_TEAM_ID, *owned])

    def forget(self, ids: Iterable[UUID]) -> None:
        cache = self._store.repository.cache
        if cache is None:
            return
        for aggregate_id in ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    @contextlib.contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        saved, self._deadline = self._deadline, deadline
        try:
            yield
        finally:
            self._deadline = saved

    def _connect(self, deadline: float) -> psycopg.Connection[Any]:
        """A fresh connection (not a pooled one, maybe broken), waiting at most until
        `deadline` (libpq waits at least 2 s for a server that does not answer)."""
        remaining = deadline - time.monotonic()
        return psycopg.connect(
            cast(str, self._pool.conninfo),
            autocommit=True,
            connect_timeout=max(1, math.ceil(remaining)),
        )

    def _checkout_timeout(self) -> float:
        """How long a checkout may wait now: until the deadline (but never less than
        MIN_CHECKOUT_SECONDS, nor more than the database timeout)."""
        left = self._deadline - time.monotonic()
        return min(self._timeout, max(left, MIN_CHECKOUT_SECONDS))

    def _database(self) -> str:
        """The database's name as data keys are cached by (read once)."""
        if self._db is None:
            self._db = self._read(self._keys.database)
        return self._db

    def _read(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Runs `work` on a connection of the pool, tried once."""
        with _reaching(), self._pool.connection(timeout=self._checkout_timeout()) as conn:
            return work(conn)

    @contextlib.contextmanager
    def _store_checkouts(self) -> Iterator[None]:
        """The event store's checkouts in the block wait at most `_checkout_timeout()`."""
        saved = self._store_pool.timeout
        self._store_pool.timeout = min(saved, self._checkout_timeout())
        try:
            yield
        finally:
            self._store_pool.timeout = saved
