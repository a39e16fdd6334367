"""The unit of work in memory: the writer's logic tested without a database.

Aggregates are kept as their events and rebuilt on each read, as the event store does, so
that a batch refused leaves nothing behind. A save checks what PostgreSQL's keys check
(each aggregate's next version, claims, Idempotency-Keys) and stores all or nothing. Tests
set `before_save` to act as another writer between a batch's reads and its save, and
`faults` to make the next saves fail.
"""

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID

from commands.unit_of_work import (
    Changes,
    Claim,
    CommitCutOff,
    Conflict,
    Key,
    StoredOutcome,
)
from domain.aggregate import Aggregate
from domain.customer import Customer


def cut(*, committed: bool) -> CommitCutOff:
    """A fault: the COMMIT cut off, after it went through (`committed`) or before."""
    fault = CommitCutOff("the connection failed during the COMMIT")
    fault.committed = committed  # type: ignore[attr-defined]
    return fault


def _committed(fault: Exception) -> bool:
    return getattr(fault, "committed", False)


class InMemoryUnitOfWork:
    """`UnitOfWork` over dictionaries."""

    def __init__(self) -> None:
        self.events: dict[UUID, list[Any]] = {}
        self.claims: dict[Claim, UUID] = {}
        self.links: set[tuple[UUID, UUID]] = set()
        self.outcomes: dict[Key, StoredOutcome] = {}
        self.saves = 0
        """Transactions committed."""
        self.before_save: list[Callable[[], None]] = []
        """Run (and dropped) one per save, before it: another writer's work."""
        self.faults: list[Exception] = []
        """Raised (and dropped) one per save instead of saving; a `CommitCutOff` (see `cut`)
        is raised after saving if its COMMIT went through unheard."""

    def aggregates(self, ids: Collection[UUID]) -> dict[UUID, Aggregate]:
        return {i: self._rebuilt(i) for i in set(ids) if i in self.events}

    def held_claims(self, claims: Sequence[Claim]) -> set[Claim]:
        return {claim for claim in claims if claim in self.claims}

    def stored_outcomes(self, keys: Sequence[Key]) -> dict[Key, StoredOutcome]:
        stored = {key: self.outcomes[key] for key in keys if key in self.outcomes}
        return {
            key: replace(first, outcome=replace(first.outcome, replayed=True))
            for key, first in stored.items()
        }

    def customer_with_email(self, email: str) -> UUID | None:
        customers = (self._rebuilt(i) for i in self.events)
        for customer in customers:
            if isinstance(customer, Customer) and (customer.personal.email or "").lower() == (
                email.lower()
            ):
                return customer.id
        return None

    def save(self, changes: Changes) -> None:
        if self.before_save:
            self.before_save.pop(0)()
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and not _committed(fault):
            raise fault
        self._check(changes)
        for aggregate in changes.aggregates.values():
            self.events.setdefault(aggregate.id, []).extend(aggregate.collect_events())
        self.claims.update(changes.claims)
        self.claims = {c: owner for c, owner in self.claims.items() if owner not in changes.erased}
        self.links.update(changes.links)
        self.outcomes.update(changes.outcomes)
        self.saves += 1
        if fault is not None:
            raise fault

    def committed(self, cut: CommitCutOff, deadline: float) -> bool | None:
        return _committed(cut)

    def reachable(self, deadline: float) -> bool:
        return True

    def forget(self, ids: Iterable[UUID]) -> None:
        """Nothing is cached."""

    @contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        yield

    def _rebuilt(self, aggregate_id: UUID) -> Aggregate:
        aggregate: Aggregate | None = None
        for event in self.events[aggregate_id]:
            aggregate = event.mutate(aggregate)
        assert aggregate is not None
        return aggregate

    def _check(self, changes: Changes) -> None:
        """Raises Conflict as PostgreSQL's keys would, before anything is stored."""
        for aggregate in changes.aggregates.values():
            pending = aggregate.pending_events
            if (
                pending
                and pending[0].originator_version != len(self.events.get(aggregate.id, [])) + 1
            ):
                raise Conflict("aggregate")
        claims = [claim for claim, _ in changes.claims]
        if len(set(claims)) != len(claims) or any(c in self.claims for c in claims):
            raise Conflict("claim")
        keys = [key for key, _ in changes.outcomes]
        if len(set(keys)) != len(keys) or any(key in self.outcomes for key in keys):
            raise Conflict("idempotency-key")
