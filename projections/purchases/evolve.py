"""Pure `(row, event) -> row` functions of the purchases read model.

A row is one order as the customer's `PurchaseRecorded` event recorded it, with both of its
times: `occurred_at` (business time, possibly historical for imports) and `recorded_at`
(when the system learned of it), so that reports can answer as of either. The domain
records an order id once per customer; should a second record of one ever arrive, the first
stands. Nothing derived from other orders is stored (whether an order is the customer's
first depends on what is known when asking), and no wall clock: a rebuild equals the live
table.
"""

from decimal import Decimal

from domain.events.envelope import Envelope
from domain.events.payloads.customer import PurchaseRecorded
from projections.projection import Row


def key(event: Envelope) -> str | None:
    """Rows are per order: `"{customer_id}/{order_id}"`."""
    if event.payload_type is not PurchaseRecorded:
        return None
    return f"{event.customer_id}/{event.data['order_id']}"


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row of an order: made by its first record, unchanged by any later event."""
    if row is not None or event.payload_type is not PurchaseRecorded:
        return row
    data = event.data
    return {
        "customer_id": event.customer_id,
        "order_id": data["order_id"],
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "total": Decimal(data["total"]),
        "currency": data["currency"],
        "payment_method": data.get("payment_method"),
        "items": [_line(item) for item in data["items"]],
        "last_position": event.position,
    }


def _line(item: dict[str, object]) -> dict[str, object]:
    """An order line as stored: sku, name, quantity, unit_price (a string, exact)."""
    price = item.get("unit_price")
    return {
        "sku": item.get("sku"),
        "name": item.get("name"),
        "quantity": int(item.get("quantity", 1)),  # type: ignore[call-overload]
        "unit_price": None if price is None else str(Decimal(str(price))),
    }
