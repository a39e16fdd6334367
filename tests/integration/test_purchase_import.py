"""Importing purchases through the command bus: windows sorted by customer, failures named."""

import uuid
from pathlib import Path

from commands import purchase_import
from commands.customers import EXTERNAL_REF
from commands.purchase_csv import read_rows
from commands.purchase_import import PurchaseImport, survey
from tests.integration.conftest import register


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
