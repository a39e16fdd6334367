"""The event catalogue lists every event the aggregates record, with the fields they record,
and a personal-data decision on each field."""

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic
from pydantic import TypeAdapter

import domain
from domain.aggregate import Aggregate
from domain.events.catalogue import BY_NAME, CATALOGUE, EventEntry
from domain.events.envelope import Envelope
from domain.events.payload import (
    NOT_PERSONAL,
    PERSONAL_DATA,
    Payload,
    Uncatalogued,
    blank_personal,
    personal_fields,
    undecided_fields,
)
from domain.events.payloads import ticket
from domain.ticket import Ticket, TicketStatus

RECORDED_ELSEWHERE = {
    "originator_id",
    "originator_version",
    "originator_topic",
    "timestamp",
    "meta",
}
"""Event fields the envelope carries outside `data`, or drops."""


def _aggregates() -> list[type[Aggregate]]:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    found, todo = [], [Aggregate]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("domain.") and cls.__module__ != "domain.aggregate":
            found.append(cls)
    return found


def _recorded_events() -> dict[str, type]:
    """Every event class an aggregate records, by its name: each one carries `meta` (the
    library's generic `Created` classes, never recorded, carry no field of their own)."""
    return {
        value.__qualname__: value
        for aggregate in _aggregates()
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and "meta" in value.__dict__.get("__annotations__", {})
    }


RECORDED = _recorded_events()


def test_every_recorded_event_type_has_an_entry_and_every_entry_is_recorded() -> None:
    assert sorted(RECORDED) == sorted(BY_NAME)
    assert len(BY_NAME) == len(CATALOGUE)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_the_payload_has_the_fields_the_aggregate_records_with_their_types(name: str) -> None:
    recorded = {
        field: info.annotation
        for field, info in RECORDED[name].model_fields.items()  # type: ignore[attr-defined]
        if field not in RECORDED_ELSEWHERE
    }
    declared = {
        field: info.annotation for field, info in BY_NAME[name].payload.model_fields.items()
    }
    assert declared == recorded


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.name)
def test_every_payload_field_is_decided_personal_or_not(entry: EventEntry) -> None:
    assert undecided_fields(entry.payload) == ()
    assert entry.description, f"{entry.name} has no docstring"


def test_the_type_name_is_the_end_of_the_stored_topic() -> None:
    for name, event_class in RECORDED.items():
        assert get_topic(event_class).rpartition(":")[2] == name
        assert BY_NAME[name].aggregate.__name__ == name.partition(".")[0]


def test_personal_fields_are_the_annotated_ones() -> None:
    assert BY_NAME["Customer.Registered"].personal_fields == (
        "personal",
        "profile",
        "custom_fields",
    )
    assert BY_NAME["Ticket.Opened"].personal_fields == ("subject", "personal")
    assert BY_NAME["Lead.Captured"].personal_fields == ("personal", "company", "attributes")
    assert BY_NAME["Customer.PurchaseRecorded"].personal_fields == ()
    assert all(entry.schema_version == 1 for entry in CATALOGUE)


def test_a_field_without_a_decision_is_found() -> None:
    class Undecided(Payload):
        """A payload one of whose fields has no decision."""

        note: str
        rating: Annotated[int, NOT_PERSONAL]
        comment: Annotated[str, PERSONAL_DATA]

    assert undecided_fields(Undecided) == ("note",)
    assert personal_fields(Undecided) == ("comment",)


CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"


def envelope(type_: str) -> Envelope:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    return Envelope(
        type=type_, stream_id="t-1", stream_version=2, position=9, customer_id=CUSTOMER,
        occurred_at=at, recorded_at=at, actor="t", correlation_id="c", causation_id=None,
        schema_version=1, data={"customer_id": CUSTOMER, "status": "solved"},
    )  # fmt: skip


def test_an_envelope_knows_its_payload_model_and_aggregate() -> None:
    known = envelope("Ticket.StatusChanged")
    assert (known.payload_type, known.aggregate) == (ticket.StatusChanged, Ticket)
    assert known.payload == ticket.StatusChanged(
        customer_id=UUID(CUSTOMER), status=TicketStatus.SOLVED
    )
    assert known.payload is known.payload


def test_an_uncatalogued_type_has_no_payload_model_but_may_name_its_aggregate() -> None:
    new, foreign = envelope("Ticket.Merged"), envelope("Elsewhere.Happened")
    assert (new.payload_type, new.aggregate) == (Uncatalogued, Ticket)
    assert (foreign.payload_type, foreign.aggregate) == (Uncatalogued, None)
    with pytest.raises(LookupError):
        _ = new.payload


@pytest.mark.parametrize(
    "entry", [e for e in CATALOGUE if e.personal_fields], ids=lambda entry: entry.name
)
def test_an_erased_personal_field_still_has_a_valid_value(entry: EventEntry) -> None:
    for name, value in blank_personal(entry.payload, {}).items():
        TypeAdapter(entry.payload.model_fields[name].annotation).validate_python(value)
