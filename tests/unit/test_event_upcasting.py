"""Upcasters bring an event of an older schema version up to its type's current one, read
from the event store or from Kafka alike."""

from decimal import Decimal
from typing import Annotated, Any, ClassVar

import orjson
import pytest

from domain.customer import Customer
from domain.events import catalogue, upcasting
from domain.events.envelope import MalformedMessage, decode, encode, from_stored
from domain.events.payload import NOT_PERSONAL, Payload
from domain.events.upcasting import UnknownSchemaVersion, upcast

NAME = "Customer.PurchaseRecorded"
TOPIC = f"domain.customer:{NAME}"
CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"
V1 = {"order_id": "A-1", "items": [], "total": "9.90", "currency": "EUR", "payment_method": "card"}
STORED = {
    **V1,
    "originator_id": CUSTOMER,
    "originator_version": 2,
    "timestamp": "2026-03-01T09:00:00+00:00",
    "meta": {"actor": "t", "correlation_id": "c", "occurred_at": "2026-03-01T09:00:00+00:00"},
}


class PurchaseRecorded(Payload):
    """An example version 2: the amount and its currency as one `price` object."""

    schema_version: ClassVar[int] = 2

    order_id: Annotated[str, NOT_PERSONAL]
    price: Annotated[dict[str, str], NOT_PERSONAL]


def to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """The example upcaster: version 1 -> version 2."""
    return {
        "order_id": data["order_id"],
        "price": {"amount": data["total"], "currency": data["currency"]},
    }


@pytest.fixture
def version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Customer.PurchaseRecorded at the example version 2, with its upcaster."""
    monkeypatch.setitem(catalogue.BY_NAME, NAME, catalogue.EventEntry(Customer, PurchaseRecorded))
    monkeypatch.setitem(upcasting.UPCASTERS, (NAME, 1), to_v2)


def test_upcast_applies_each_step_up_to_the_current_version() -> None:
    steps = {(NAME, 1): to_v2, (NAME, 2): lambda d: {**d, "v3": True}}
    assert upcast(NAME, V1, 1, 3, steps) == {
        "order_id": "A-1", "price": {"amount": "9.90", "currency": "EUR"}, "v3": True,
    }  # fmt: skip
    assert upcast(NAME, V1, 1, 1, {}) is V1


@pytest.mark.parametrize(("version", "current"), [(2, 1), (0, 1), (1, 3)])
def test_a_version_without_a_way_up_is_refused(version: int, current: int) -> None:
    with pytest.raises(UnknownSchemaVersion, match=f"unknown schema_version {version}"):
        upcast(NAME, V1, version, current, {(NAME, 1): to_v2})


@pytest.mark.usefixtures("version_2")
def test_a_stored_event_of_version_1_is_read_at_version_2() -> None:
    event = from_stored(7, CUSTOMER, 2, TOPIC, orjson.dumps(STORED))
    assert event.schema_version == 2
    assert event.data == to_v2(V1)
    assert event.payload == PurchaseRecorded(
        order_id="A-1", price={"amount": "9.90", "currency": "EUR"}
    )
    assert event.payload_type is PurchaseRecorded


def test_a_kafka_message_of_version_1_is_read_at_version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    message = encode(from_stored(7, CUSTOMER, 2, TOPIC, orjson.dumps(STORED)))
    monkeypatch.setitem(catalogue.BY_NAME, NAME, catalogue.EventEntry(Customer, PurchaseRecorded))
    monkeypatch.setitem(upcasting.UPCASTERS, (NAME, 1), to_v2)
    event = decode(message)
    assert (event.schema_version, event.data) == (2, to_v2(V1))
    assert decode(encode(event)) == event


def test_a_message_of_a_newer_version_than_known_is_malformed() -> None:
    message = orjson.loads(encode(from_stored(7, CUSTOMER, 2, TOPIC, orjson.dumps(STORED))))
    with pytest.raises(MalformedMessage, match="unknown schema_version 2"):
        decode(orjson.dumps({**message, "schema_version": 2}))


def test_the_payload_is_validated_once_into_its_model() -> None:
    event = from_stored(7, CUSTOMER, 2, TOPIC, orjson.dumps(STORED))
    assert event.payload is event.payload
    assert event.payload.total == Decimal("9.90")  # type: ignore[attr-defined]
    assert event.customer_id == CUSTOMER
