"""What the command writer needs from storage: a unit of work with a small interface.

The writer reads the aggregates a batch of commands acts on, the unique values already
claimed, and the answers stored under Idempotency-Keys; then saves, atomically, the
aggregates' new events with the batch's claims, customer-stream links, erasures and
answers (`Changes`). Two implementations: `postgres` (one transaction, the event store's) and
`memory` (for unit tests of the writer's logic).
"""

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol
from uuid import UUID

from commands.context import Outcome
from domain.aggregate import Aggregate

Claim = tuple[str, str]
"""A unique value: (kind, value), such as a customer's external reference."""
Key = tuple[str, str]
"""An Idempotency-Key and the actor who sent it: (actor, key)."""


@dataclass(frozen=True)
class StoredOutcome:
    """The first answer given under an Idempotency-Key, and the request it answered."""

    request_hash: str
    outcome: Outcome


@dataclass
class Changes:
    """What one transaction saves."""

    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    """The aggregates read or changed, by id: their pending events are saved."""
    claims: list[tuple[Claim, UUID]] = field(default_factory=list)
    links: list[tuple[UUID, UUID]] = field(default_factory=list)
    """(customer id, stream id): a stream whose events are in the customer's timeline."""
    erased: list[UUID] = field(default_factory=list)
    """Customers erased: the claims they hold are released, their data keys destroyed."""
    outcomes: list[tuple[Key, StoredOutcome]] = field(default_factory=list)


class Conflict(Exception):  # noqa: N818 - a race lost, not the caller's error
    """The save was refused, nothing saved: another writer stored an event of one of the
    aggregates, one of the claims, or an answer under one of the keys first."""

    def __init__(self, on: Literal["aggregate", "claim", "idempotency-key"]) -> None:
        super().__init__(f"conflict on {on}")
        self.on = on


class Unreachable(Exception):  # noqa: N818 - the database is away, not the caller's error
    """The database could not be reached; nothing was saved by this call."""


class CommitCutOff(Exception):  # noqa: N818 - an outcome unknown
    """The connection failed during the COMMIT: the changes may be saved or not. Ask
    `committed(cut, ...)` until it can tell."""


class UnitOfWork(Protocol):
    """Reads for deciding a batch of commands, and its atomic save."""

    def aggregates(self, ids: Collection[UUID]) -> dict[UUID, Aggregate]:
        """Current copies of the aggregates that exist among `ids`."""
        ...

    def held_claims(self, claims: Sequence[Claim]) -> set[Claim]:
        """Those of `claims` that an aggregate holds already."""
        ...

    def stored_outcomes(self, keys: Sequence[Key]) -> dict[Key, StoredOutcome]:
        """The answers stored under those of `keys` that were used."""
        ...

    def customer_with_email(self, email: str) -> UUID | None:
        """The first registered customer with this email (case-insensitive), or None."""
        ...

    def save(self, changes: Changes) -> None:
        """Saves every change or none; raises Conflict, Unreachable or CommitCutOff."""
        ...

    def committed(self, cut: CommitCutOff, deadline: float) -> bool | None:
        """Whether a cut-off save was committed; None while that cannot be told (asked on a
        fresh connection that waits until `deadline` at most)."""
        ...

    def reachable(self, deadline: float) -> bool:
        """Whether the database takes a fresh connection now (waiting until `deadline` at
        most); if it does, the broken connections of pools are dropped."""
        ...

    def forget(self, ids: Iterable[UUID]) -> None:
        """Drops cached copies: the next read of these aggregates goes to the store."""
        ...

    def until(self, deadline: float) -> AbstractContextManager[None]:
        """No wait for the database in the block lasts past `deadline` (time.monotonic)."""
        ...
