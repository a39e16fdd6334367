"""Events a projection cannot apply are parked, live and in rebuilds; a projection can be built
as of a time."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from commands.context import Target
from commands.customers import RecordPurchase
from infra.stored_events import head, scan
from projections.catalog import CUSTOMER_360
from projections.customer_360 import table as customer_360
from projections.projection import Projection, apply_or_park
from projections.rebuild import build_as_of
from tests.integration.conftest import context, register


def last_purchase(name: str) -> Projection:
    """A probe read model: each customer's last purchase total, in an int column. It cannot
    apply orders named poison-... (its fold raises), nor store totals beyond an int
    (PostgreSQL refuses them)."""

    def evolve(row, event):
        if event.type != "Customer.PurchaseRecorded":
            return row
        if event.data["order_id"].startswith("poison"):
            raise LookupError("no such order")
        return {"k": event.customer_id, "v": int(Decimal(event.data["total"]))}

    def load(conn, keys, table):
        rows = conn.execute(f"SELECT k, v FROM {table} WHERE k = ANY(%s)", (list(keys),))
        return {k: {"k": k, "v": v} for k, v in rows.fetchall()}

    def save(conn, rows, table):
        conn.cursor().executemany(
            f"INSERT INTO {table} VALUES (%(k)s, %(v)s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            list(rows),
        )

    return Projection(
        name,
        create=lambda conn, table: conn.execute(
            f"CREATE TABLE {table} (k text PRIMARY KEY, v int)"
        ),
        index=lambda _conn, _table: None,
        key=lambda event: event.customer_id,
        evolve=evolve,
        load=load,
        save=save,
    )


def test_events_a_projection_cannot_apply_are_parked_live_and_in_a_rebuild(container) -> None:
    # Given purchases, one the fold cannot apply and one PostgreSQL cannot store
    with container.pool.connection() as conn:
        before = head(conn)
    ada, bob = register(container.bus), register(container.bus)
    for customer, order, total in [
        (ada, "a-1", "5"), (ada, "poison-1", "6"), (bob, "b-1", "3000000000"), (ada, "a-2", "7")
    ]:  # fmt: skip
        buy = RecordPurchase(order_id=order, total=Decimal(total), currency="EUR")
        container.bus.execute(Target(customer), buy, context())
    live, rebuilt = (last_purchase(f"probe_{uuid4().hex[:8]}") for _ in range(2))
    with container.pool.connection() as conn:
        (events,) = scan(conn, before, head(conn), batch=100)
        # When the live feed applies them in one batch, and a build folds everything
        live.create(conn, live.name)
        parked = apply_or_park(conn, live, events, live.name)
        table = build_as_of(conn, rebuilt, datetime.now(UTC) + timedelta(days=1))
        # Then both apply the others and park those two, with the errors
        assert parked == 2
        for name, table_name in [(live.name, live.name), (rebuilt.name, table)]:
            rows = conn.execute(
                f"SELECT k, v FROM {table_name} WHERE k = ANY(%s)", ([str(ada), str(bob)],)
            ).fetchall()
            assert rows == [(str(ada), 7)]
            letters = conn.execute(
                "SELECT position, error FROM crm_dead_letters"
                " WHERE projection = %s AND position > %s ORDER BY position",
                (name, before),
            ).fetchall()
            assert [position for position, _ in letters] == [events[3].position, events[4].position]
            assert letters[0][1] == "LookupError('no such order')"
            assert "out of range" in letters[1][1]


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
        table = build_as_of(conn, CUSTOMER_360, moment)
        conn.commit()
        as_of = customer_360.ROWS.load(conn, [str(customer_id)], table)[str(customer_id)]
    # Then only the first purchase is in it, in a table named after the moment
    assert table == f"customer_360_as_of_{moment:%Y%m%dt%H%M%Sz}"
    assert (as_of["purchase_count"], as_of["purchase_total"]) == (1, Decimal("5"))
