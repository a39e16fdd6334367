"""Poison events are parked, not applied and not fatal; a projection can be built as of a time."""

from datetime import UTC, datetime
from decimal import Decimal

from commands.context import Target
from commands.customers import RecordPurchase
from projections.catalog import CUSTOMER_360
from projections.customer_360 import table as customer_360
from projections.envelope import Envelope
from projections.projection import Projection, apply_or_park
from projections.rebuild import build_as_of
from tests.integration.conftest import context, register


def envelope(position: int, data: dict) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        f"e{position}", "Customer.Registered", "s", 1, position, "c", now, now,
        "tester", "corr", None, 1, data,
    )  # fmt: skip


def test_an_event_the_projection_cannot_apply_is_parked_and_the_rest_applied(container) -> None:
    # Given a projection that cannot apply events without a "value"
    def apply(conn, events, table) -> None:
        for event in events:
            conn.execute(f"INSERT INTO {table} VALUES (%s)", (int(event.data["value"]),))

    name = f"poison_test_{datetime.now(UTC):%H%M%S%f}"
    probe = Projection(name, lambda conn, t: conn.execute(f"CREATE TABLE {t} (v int)"), apply)
    events = [envelope(1, {"value": 1}), envelope(2, {}), envelope(3, {"value": 3})]
    with container.pool.connection() as conn:
        probe.create(conn, name)
        # When a batch with one such event is applied
        parked = apply_or_park(conn, probe, events, name)
        # Then the others are applied and that one is a dead letter with its error
        assert parked == 1
        assert conn.execute(f"SELECT v FROM {name} ORDER BY v").fetchall() == [(1,), (3,)]
        assert conn.execute(
            "SELECT position, error FROM crm_dead_letters WHERE projection = %s", (name,)
        ).fetchall() == [(2, "KeyError('value')")]


def test_a_projection_built_as_of_a_past_time_leaves_out_later_events(container) -> None:
    # Given a purchase before a moment, and one after it
    customer_id = register(container.bus)
    buy = RecordPurchase(order_id="before", total=Decimal("5"), currency="EUR")
    container.bus.execute(Target(customer_id), buy, context())
    moment = datetime.now(UTC)
    buy = RecordPurchase(order_id="after", total=Decimal("7"), currency="EUR")
    container.bus.execute(Target(customer_id), buy, context())
    # When customer_360 is built as of that moment
    with container.pool.connection() as conn:
        table = build_as_of(conn, container.store.recorder, CUSTOMER_360, moment)
        conn.commit()
        as_of = customer_360.load(conn, [str(customer_id)], table)[str(customer_id)]
    # Then only the first purchase is in it, in a table named after the moment
    assert table == f"customer_360_as_of_{moment:%Y%m%dt%H%M%Sz}"
    assert (as_of["purchase_count"], as_of["purchase_total"]) == (1, Decimal("5"))
