"""Aggregate base whose events are immutable pydantic models (stored as plain JSON)."""

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate as LibraryAggregate
from eventsourcing.domain import CanInitAggregate, CanMutateAggregate
from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """Fields every stored event has; `timestamp` is when it was recorded."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    timestamp: datetime


class Aggregate(LibraryAggregate):
    """Base for CRM aggregates: declarative `@event` methods, pydantic events.

    Subclasses annotate `id: UUID` so that callers choose the id (ids come from commands).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A copy for a command to change (the repository hands out copies of cached aggregates).

        Aggregate state is immutable values (str, numbers, frozen value objects) and flat
        sets, dicts and lists of them, so copying the containers is a deep copy.
        """
        copied = object.__new__(type(self))
        copied.__dict__.update(
            {k: v.copy() if isinstance(v, set | dict | list) else v for k, v in vars(self).items()}
        )
        return copied

    class Event(DomainEvent, CanMutateAggregate):
        """An event that changes an existing aggregate."""

    class Created(Event, CanInitAggregate):
        """The event that starts an aggregate."""

        originator_topic: str


class CustomerOwned(Aggregate):
    """Base for aggregates that belong to one customer (a ticket, a deal): every event they
    record carries `customer_id`, so that it reaches the customer's timeline, read models
    and Kafka partition. Subclasses set `self.customer_id` in their created event."""

    customer_id: UUID

    class Event(Aggregate.Event):
        """An event of a customer's aggregate."""

        customer_id: UUID

    class Created(Event, Aggregate.Created):
        """The event that starts a customer's aggregate."""

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        """Records an event, with the owner's `customer_id`."""
        super().trigger_event(event_class, **{"customer_id": self.customer_id, **kwargs})
