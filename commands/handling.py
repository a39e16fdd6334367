"""The contract of a command handler: `def handler(command, ctx: Decide[A]) -> Decision`.

A handler decides a command and records events on aggregates, with no I/O: what it decides
with is on `ctx` (the target aggregate, those the command requires or consults, the event
metadata, and the lookups the writer answers in its transaction). It returns a `Decision`:
the aggregate it acted on, the answer's fields, and any aggregates it started besides (a lead
converted into a customer and a deal); all are saved in the command's transaction.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from domain.aggregate import Aggregate
from domain.values import Meta

A = TypeVar("A", bound=Aggregate)
B = TypeVar("B", bound=Aggregate)
Answer = dict[str, Any]


class Lookups(Protocol):
    """What a handler may ask the store besides aggregates (answered in the writer)."""

    def customer_with_email(self, email: str) -> UUID | None:
        """The first registered customer with this email (case-insensitive), or None."""
        ...


class NoLookups:
    """Lookups that find nothing (for handlers run outside the writer)."""

    def customer_with_email(self, email: str) -> UUID | None:
        return None


@dataclass(frozen=True)
class Decide(Generic[A]):
    """What a handler decides its command with."""

    current: A | None
    """The target aggregate; None for a command that creates it and finds none."""
    target_id: UUID
    meta: Meta
    given: Mapping[UUID, Aggregate] = field(default_factory=dict)
    """The aggregates the command requires, and those it consults that exist, by id."""
    lookups: Lookups = field(default_factory=NoLookups)

    @property
    def aggregate(self) -> A:
        """The target aggregate of a command that acts on an existing one (the writer
        refused the command already if there is none)."""
        if self.current is None:
            raise LookupError(f"no aggregate {self.target_id}")
        return self.current

    def consulted(self, aggregate_id: UUID, kind: type[B]) -> B | None:
        """The given aggregate of that id if it is a `kind`, else None."""
        found = self.given.get(aggregate_id)
        return found if isinstance(found, kind) else None


@dataclass(frozen=True)
class Decision:
    """What a handler decided: the aggregate it acted on, the answer's fields beside its id
    and version, and the aggregates it started besides."""

    aggregate: Aggregate
    answer: Answer = field(default_factory=dict)
    created: tuple[Aggregate, ...] = ()

    @property
    def changed(self) -> tuple[Aggregate, ...]:
        """The aggregate acted on, then those started."""
        return (self.aggregate, *self.created)


Handler = Callable[[Any, Decide[Any]], Decision]
