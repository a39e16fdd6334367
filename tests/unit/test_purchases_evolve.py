"""The purchases read model as a pure function of purchase events."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from domain.events.envelope import Envelope
from projections.purchases.evolve import evolve, key

CUSTOMER = "3d2b0c57-8f6e-4f0e-9d55-2c1f6c7a9e01"
OCCURRED = datetime(2024, 11, 3, 17, 30, tzinfo=UTC)
RECORDED = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def recorded(order_id: str = "A-1", position: int = 7, **data: object) -> Envelope:
    items = [{"sku": "TEA-01", "name": "Tea", "quantity": 2, "unit_price": "4.50"}]
    return Envelope(
        type="Customer.PurchaseRecorded", stream_id=CUSTOMER, stream_version=3, position=position,
        customer_id=CUSTOMER, occurred_at=OCCURRED, recorded_at=RECORDED, actor="t",
        correlation_id="c", causation_id=None, schema_version=1,
        data={"order_id": order_id, "items": items, "total": "9.00", "currency": "EUR",
              "payment_method": "card"} | data,
    )  # fmt: skip


def test_a_recorded_purchase_is_a_row_with_both_of_its_times() -> None:
    # Given a historical purchase recorded long after it occurred (an import)
    event = recorded()
    # When it is folded
    row = evolve(None, event)
    # Then its row keeps business and recording times, and an exact total
    assert key(event) == f"{CUSTOMER}/A-1"
    assert row == {
        "customer_id": CUSTOMER, "order_id": "A-1", "occurred_at": OCCURRED,
        "recorded_at": RECORDED, "total": Decimal("9.00"), "currency": "EUR",
        "payment_method": "card",
        "items": [{"sku": "TEA-01", "name": "Tea", "quantity": 2, "unit_price": "4.50"}],
        "last_position": 7,
    }  # fmt: skip


def test_lines_without_sku_name_or_price_are_kept_with_nulls() -> None:
    # Given an imported order whose only line says nothing but a quantity of 1
    event = recorded(items=[{"quantity": 1}], payment_method=None)
    # When it is folded
    row = evolve(None, event)
    # Then
    assert row is not None
    assert row["items"] == [{"sku": None, "name": None, "quantity": 1, "unit_price": None}]
    assert row["payment_method"] is None


def test_a_redelivered_or_repeated_record_changes_nothing() -> None:
    # Given an order's row
    row = evolve(None, recorded())
    # When the same event comes again, and a later record of the same order id arrives
    again = evolve(row, recorded())
    later = evolve(row, recorded(position=9, total="99.00"))
    # Then the first record stands
    assert again == row
    assert later == row


def test_other_events_have_no_row() -> None:
    # Given a customer event that is not a purchase
    other = replace(recorded(), type="Customer.FeedbackGiven", data={"rating": 5})
    # When / Then
    assert key(other) is None
    assert evolve(None, other) is None
