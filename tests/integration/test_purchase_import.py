"""Importing purchases through the command bus: windows sorted by customer, failures named."""

import uuid
from decimal import Decimal
from pathlib import Path

from commands import purchase_import
from commands.context import Target
from commands.customers import EXTERNAL_REF, EraseCustomer, RecordPurchase
from commands.purchase_csv import read_rows
from commands.purchase_import import PurchaseImport, claimed_customers, survey
from domain.errors import CustomerErased
from tests.integration.conftest import context, crm_on, register

HEADER = "customer_ref,occurred_at,order_id,total,currency\n"


def imported(container, path: Path) -> purchase_import.Summary:
    job = PurchaseImport(container.bus, container.pool, path, survey(path).first_seen)
    return job.run(read_rows(path), lambda _: None)


def test_customers_spread_over_windows_are_registered_once(container, tmp_path, monkeypatch):
    # Given rows of three customers, taken two at a time
    monkeypatch.setattr(purchase_import, "WINDOW", 2)
    monkeypatch.setattr(purchase_import, "CHUNK", 1)
    ref = f"w-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "p.csv"
    lines = [f"{ref}-{n % 3},2024-01-0{n + 1}T00:00:00Z,o-{n},1,EUR" for n in range(7)]
    path.write_text("customer_ref,occurred_at,order_id,total,currency\n" + "\n".join(lines))
    # When
    summary = imported(container, path)
    # Then
    assert (summary.rows, summary.recorded, summary.registered) == (7, 7, 3)
    assert summary.failure is None
    assert imported(container, path).already_there == 7


def test_a_row_the_writer_refuses_stops_the_import_naming_its_line(container, tmp_path) -> None:
    # Given a reference held by an aggregate that is not a customer, on line 3
    ref, stranger = f"s-{uuid.uuid4().hex[:8]}", uuid.uuid4()
    with container.pool.connection() as conn:
        conn.execute(
            "INSERT INTO crm_unique_claims (kind, value, aggregate_id) VALUES (%s, %s, %s)",
            (EXTERNAL_REF, f"{ref}-held", stranger),
        )
    known = f"{ref}-known"
    register(container.bus, external_ref=known)
    path = tmp_path / "p.csv"
    path.write_text(
        "customer_ref,occurred_at,order_id,total,currency\n"
        f"{known},2024-01-01T00:00:00Z,k-1,1,EUR\n"
        f"{ref}-held,2024-01-01T00:00:00Z,h-1,1,EUR\n"
        f"{known},2024-01-02T00:00:00Z,k-2,1,EUR\n"
    )
    # When
    summary = imported(container, path)
    # Then
    assert summary.failure is not None
    assert (summary.failure.line, summary.failure.column) == (3, None)
    assert summary.failure.message == f"not recorded: no customer with id {stranger}"
    assert summary.recorded == 2


def test_the_import_sees_what_another_process_recorded_for_the_customers_it_cached(
    container, database_url, tmp_path
) -> None:
    # Given two customers the import registered (its bus caches them), then another process
    # (as `crm serve`) records the next file's order for one and erases the other
    ref = f"c-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "p.csv"
    path.write_text(f"{HEADER}{ref}-a,2024-01-01T00:00:00Z,a-1,1,EUR\n")
    assert imported(container, path).registered == 1
    erased = register(container.bus, name="Ada")
    with container.pool.connection() as conn:
        [cached] = claimed_customers(conn, [f"{ref}-a"]).values()
    with crm_on(database_url) as serve:
        purchase = RecordPurchase(order_id="a-2", total=Decimal(1), currency="EUR")
        serve.bus.execute(Target(cached), purchase, context())
        serve.bus.execute(Target(erased), EraseCustomer(reason="test"), context())
    path.write_text(f"{HEADER}{ref}-a,2024-01-02T00:00:00Z,a-2,1,EUR\n")
    # When the import's bus is given the order recorded meanwhile, and a purchase of the erased
    summary = imported(container, path)
    refused = container.bus.submit(Target(erased), purchase, context()).exception(timeout=60)
    # Then the first is already there, the second refused (410)
    assert (summary.already_there, summary.recorded, summary.failure) == (1, 0, None)
    assert isinstance(refused, CustomerErased)
