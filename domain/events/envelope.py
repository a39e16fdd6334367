"""The event envelope every consumer sees (the Kafka message docs/kafka.md documents)."""

import hashlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification
from pydantic import TypeAdapter, ValidationError

from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.events.catalogue import BY_NAME, aggregate_of
from domain.events.payload import Payload, Uncatalogued
from domain.events.upcasting import UnknownSchemaVersion, upcast

EVENT_ID_NAMESPACE = UUID("0b5f3c1e-6f0e-4f57-9a43-6d1b8f0c2e11")
_STORED_ONLY = ("originator_id", "originator_version", "originator_topic")
_NAMESPACE_SHA1 = hashlib.sha1(EVENT_ID_NAMESPACE.bytes, usedforsecurity=False)
PayloadModel = type[Payload]
AggregateClass = type[Aggregate]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One stored event with its position, times and causes; `data` is the event's own fields,
    at its type's current `schema_version`. `payload_type` is its type's payload model and
    `aggregate` the aggregate that records it (the keys projections and consumers dispatch
    on; the aggregate is known from the type's first part even when the type is not in the
    catalogue), and `payload` the data validated into its model."""

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
    erased: bool = field(default=False, compare=False)
    """Some personal fields of `data` read as blanks: their subject was erased."""
    payload_type: PayloadModel = field(init=False, repr=False, compare=False)
    aggregate: AggregateClass | None = field(init=False, repr=False, compare=False)
    _payload: Payload = field(init=False, repr=False, compare=False)  # set on first use

    def __post_init__(self) -> None:
        entry = BY_NAME.get(self.type)
        payload, aggregate = (
            (Uncatalogued, aggregate_of(self.type)) if entry is None else entry.kind
        )
        object.__setattr__(self, "payload_type", payload)
        object.__setattr__(self, "aggregate", aggregate)

    @property
    def payload(self) -> Payload:
        """`data` as its type's payload model (validated on first use, then kept); LookupError
        for a type not in the catalogue."""
        try:
            return self._payload
        except AttributeError:
            pass
        if self.payload_type is Uncatalogued:
            raise LookupError(f"no payload model for event type {self.type}")
        payload = self.payload_type.model_validate(self.data)
        object.__setattr__(self, "_payload", payload)
        return payload

    @property
    def event_id(self) -> str:
        """The event's id, derived from its stream and version: the same on every read."""
        return event_id(self.stream_id, self.stream_version)


def event_id(stream_id: str, version: int) -> str:
    """`str(uuid5(EVENT_ID_NAMESPACE, f"{stream_id}/{version}"))`, faster: the namespace is
    hashed once (docs/decisions/0006-replay-in-memory.md)."""
    digest = _NAMESPACE_SHA1.copy()
    digest.update(f"{stream_id}/{version}".encode())
    raw = bytearray(digest.digest()[:16])
    raw[6] = raw[6] & 0x0F | 0x50  # version 5
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def from_stored(position: int, stream_id: str, version: int, topic: str, state: bytes) -> Envelope:
    """Decodes a stored event: its position, stream, version, topic and JSON state (whose
    `schema_version`, absent for version 1, is brought up to date)."""
    data: dict[str, Any] = orjson.loads(state)
    meta, recorded_at = data.pop("meta"), data.pop("timestamp")
    for name in _STORED_ONLY:
        data.pop(name, None)
    event_type = topic.rpartition(":")[2]
    entry = BY_NAME.get(event_type)
    schema = data.pop("schema_version", 1)
    if entry is not None and schema != entry.schema_version:
        data = upcast(event_type, data, schema, entry.schema_version)
        schema = entry.schema_version
    return Envelope(
        type=event_type,
        stream_id=stream_id,
        stream_version=version,
        position=position,
        customer_id=data.get("customer_id")
        or (
            stream_id
            if (entry.aggregate if entry else aggregate_of(event_type)) is Customer
            else None
        ),
        occurred_at=datetime.fromisoformat(meta["occurred_at"]),
        recorded_at=datetime.fromisoformat(recorded_at),
        actor=meta["actor"],
        correlation_id=meta["correlation_id"],
        causation_id=meta.get("causation_id"),
        schema_version=schema,
        data=data,
    )


def from_notification(notification: Notification) -> Envelope:
    """Decodes a stored event read from the notification log."""
    return from_stored(
        notification.id,
        str(notification.originator_id),
        notification.originator_version,
        notification.topic,
        notification.state,
    )


class MalformedMessage(ValueError):
    """A Kafka message that is not an event envelope of a known schema version."""


def message_fields(envelope: Envelope) -> dict[str, Any]:
    """The envelope's fields as the Kafka message and the timeline show them (docs/kafka.md)."""
    return {name: getattr(envelope, name) for name in _FIELDS}


def encode(envelope: Envelope) -> bytes:
    """The Kafka message value (docs/kafka.md): the envelope as one JSON object."""
    return orjson.dumps(message_fields(envelope))


def decode(value: bytes | None) -> Envelope:
    """Reads a Kafka message value back into an envelope, checking every field's type, and
    brings its `data` up to its type's schema version (a type not in the catalogue is at
    version 1). `event_id` is not read: it is derived from `stream_id` and `stream_version`."""
    try:
        envelope = _ENVELOPE.validate_json(value or b"")
    except ValidationError as error:
        raise MalformedMessage(_first_problem(error)) from None
    entry = BY_NAME.get(envelope.type)
    current = entry.schema_version if entry else 1
    if envelope.schema_version == current:
        return envelope
    try:
        data = upcast(envelope.type, envelope.data, envelope.schema_version, current)
    except UnknownSchemaVersion as error:
        raise MalformedMessage(str(error)) from None
    return replace(envelope, data=data, schema_version=current)


def _first_problem(error: ValidationError) -> str:
    problem = error.errors(include_url=False)[0]
    where = ".".join(map(str, problem["loc"])) or "message"
    return f"{where}: {problem['msg']} ({error.error_count()} problem(s))"


_ENVELOPE = TypeAdapter(Envelope)
_FIELDS = ("event_id", *(f.name for f in fields(Envelope) if f.init and f.name != "erased"))
