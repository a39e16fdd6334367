"""The event envelope every consumer sees (the Kafka message of CONTRACT.md)."""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import orjson
from eventsourcing.persistence import Notification
from pydantic import TypeAdapter, ValidationError

SCHEMA_VERSION = 1
EVENT_ID_NAMESPACE = UUID("0b5f3c1e-6f0e-4f57-9a43-6d1b8f0c2e11")
_STORED_ONLY = ("originator_id", "originator_version", "timestamp", "originator_topic", "meta")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One stored event with its position, times and causes; `data` is the event's own fields."""

    event_id: str
    type: str
    stream_id: str
    stream_version: int
    position: int
    customer_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    schema_version: int
    data: dict[str, Any]


def from_notification(notification: Notification) -> Envelope:
    """Decodes a stored event read from the notification log."""
    state: dict[str, Any] = orjson.loads(notification.state)
    meta = state["meta"]
    data = {k: v for k, v in state.items() if k not in _STORED_ONLY}
    event_type = notification.topic.rpartition(":")[2]
    stream_id = str(notification.originator_id)
    return Envelope(
        event_id=str(uuid5(EVENT_ID_NAMESPACE, f"{stream_id}/{notification.originator_version}")),
        type=event_type,
        stream_id=stream_id,
        stream_version=notification.originator_version,
        position=notification.id,
        customer_id=data.get("customer_id")
        or (stream_id if event_type.startswith("Customer.") else None),
        occurred_at=datetime.fromisoformat(meta["occurred_at"]),
        recorded_at=datetime.fromisoformat(state["timestamp"]),
        actor=meta["actor"],
        correlation_id=meta["correlation_id"],
        causation_id=meta.get("causation_id"),
        schema_version=SCHEMA_VERSION,
        data=data,
    )


class MalformedMessage(ValueError):
    """A Kafka message that is not an event envelope of a known schema version."""


def encode(envelope: Envelope) -> bytes:
    """The Kafka message value of CONTRACT.md: the envelope as one JSON object."""
    return orjson.dumps({name: getattr(envelope, name) for name in _FIELDS})


def decode(value: bytes | None) -> Envelope:
    """Reads a Kafka message value back into an envelope, checking every field's type."""
    try:
        envelope = _ENVELOPE.validate_json(value or b"")
    except ValidationError as error:
        raise MalformedMessage(_first_problem(error)) from None
    if envelope.schema_version != SCHEMA_VERSION:
        raise MalformedMessage(f"unknown schema_version {envelope.schema_version}")
    return envelope


def _first_problem(error: ValidationError) -> str:
    problem = error.errors(include_url=False)[0]
    where = ".".join(map(str, problem["loc"])) or "message"
    return f"{where}: {problem['msg']} ({error.error_count()} problem(s))"


_ENVELOPE = TypeAdapter(Envelope)
_FIELDS = tuple(field.name for field in fields(Envelope))
