"""`crm import purchases FILE.csv`: customers on first sight, historical purchases, re-runs."""

import csv
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg

from tests.e2e.conftest import CRM
from tests.e2e.reading import read_at_least
from tests.waiting import wait_for

HEADER = ["customer_ref", "occurred_at", "order_id", "total", "currency", "sku", "quantity"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def crm_import(env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRM, "import", "purchases", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def customer_of(api, ref: str) -> dict:
    """The customer holding `ref`, once the read model shows it."""
    found: list[dict] = []

    def listed() -> bool:
        found[:] = api.get("/v1/customers", params={"external_ref": ref}).json()["items"]
        return bool(found)

    wait_for(listed)
    return found[0]


def imported_events(url: str, prefix: str) -> dict[str, int]:
    """Events of the customers whose reference starts with `prefix`, by kind; `distinct
    orders` counts (customer, order_id) pairs."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE topic LIKE '%%.Registered'),"
            " count(*) FILTER (WHERE topic LIKE '%%.PurchaseRecorded'),"
            " count(DISTINCT (e.originator_id,"
            "   convert_from(e.state, 'UTF8')::jsonb ->> 'order_id'))"
            "   FILTER (WHERE topic LIKE '%%.PurchaseRecorded')"
            " FROM crm_unique_claims c JOIN crm_events e ON e.originator_id = c.aggregate_id"
            " WHERE c.kind = 'customer.external_ref' AND c.value LIKE %s",
            (f"{prefix}%",),
        ).fetchone()
    return dict(zip(("registered", "purchases", "distinct orders"), row, strict=True))


def test_new_and_known_customers_get_their_purchases_at_their_business_time(
    service, api, tmp_path
) -> None:
    # Given a customer registered over HTTP, and a file naming it and two new references
    ref = f"imp-{uuid.uuid4().hex[:8]}"
    known = api.post("/v1/customers", json={"name": "Known", "external_ref": f"{ref}-c"}).json()
    path = write_csv(
        tmp_path / "purchases.csv",
        [
            [f"{ref}-a", "2024-03-01T10:00:00+02:00", "A-1", "10.00", "EUR", "TEA-01", "2"],
            [f"{ref}-b", "2024-01-15T09:30:00Z", "B-1", "5", "EUR", "", ""],
            [f"{ref}-c", "2023-12-24T18:00:00Z", "C-1", "0", "EUR", "", ""],
            [f"{ref}-a", "2024-02-01T08:00:00Z", "A-2", "20.50", "EUR", "", ""],
        ],
    )
    # When
    done = crm_import(service.env, path)
    # Then
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "4 rows; purchases recorded: 4, already there: 0; customers registered: 2." in done.stdout
    )
    a = read_at_least(api, f"/v1/customers/{customer_of(api, f'{ref}-a')['id']}", 3).json()
    assert a["name"] == f"{ref}-a"
    assert a["purchases"]["count"] == 2
    assert a["purchases"]["total"] == "30.50"
    assert a["purchases"]["first_at"] == "2024-02-01T08:00:00Z"
    assert a["purchases"]["last_at"] == "2024-03-01T08:00:00Z"
    assert a["registered_at"] == "2024-02-01T08:00:00Z"  # its earliest purchase in the file
    c = customer_of(api, f"{ref}-c")
    assert c["id"] == known["id"]
    assert read_at_least(api, f"/v1/customers/{c['id']}", 2).json()["purchases"]["count"] == 1


def test_a_second_run_records_nothing_new(service, api, keys, tmp_path) -> None:
    # Given a file imported once
    ref = f"imp-{uuid.uuid4().hex[:8]}"
    path = write_csv(
        tmp_path / "purchases.csv",
        [
            [ref, "2024-05-01T12:00:00Z", "X-1", "12.00", "EUR", "", ""],
            [ref, "2024-05-02T12:00:00Z", "X-2", "8.00", "EUR", "", ""],
            [ref, "2024-05-02T12:00:00Z", "X-2", "8.00", "EUR", "", ""],  # the same order again
        ],
    )
    first = crm_import(service.env, path)
    assert (
        "3 rows; purchases recorded: 2, already there: 1; customers registered: 1." in first.stdout
    )
    before = imported_events(service.env["CRM_DATABASE_URL"], ref)
    # When
    again = crm_import(service.env, path)
    # Then
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        "3 rows; purchases recorded: 0, already there: 3; customers registered: 0." in again.stdout
    )
    assert imported_events(service.env["CRM_DATABASE_URL"], ref) == before
    customer_id = customer_of(api, ref)["id"]
    with service.client(keys["auditor"]) as auditor:
        timeline = auditor.get(f"/v1/customers/{customer_id}/timeline").json()["items"]
    assert [(e["type"], e["occurred_at"], e["causation_id"]) for e in timeline] == [
        ("Customer.Registered", "2024-05-01T12:00:00Z", "purchases.csv:2"),
        ("Customer.PurchaseRecorded", "2024-05-01T12:00:00Z", "purchases.csv:2"),
        ("Customer.PurchaseRecorded", "2024-05-02T12:00:00Z", "purchases.csv:3"),
    ]
    assert {e["actor"] for e in timeline} == {"crm-import"}


def test_a_file_with_bad_rows_is_refused_whole_naming_each_line_and_column(
    service, tmp_path
) -> None:
    # Given a file whose third and fifth lines are wrong
    ref = f"imp-{uuid.uuid4().hex[:8]}"
    path = write_csv(
        tmp_path / "bad.csv",
        [
            [ref, "2024-05-01T12:00:00Z", "Y-1", "12.00", "EUR", "", ""],
            [ref, "2024-05-01T12:00:00Z", "Y-2", "twelve", "EUR", "", ""],
            [ref, "2024-05-01T12:00:00Z", "Y-3", "1.00", "EUR", "", ""],
            [ref, "2024-05-01T12:00:00", "Y-4", "1.00", "EUR", "", ""],
        ],
    )
    # When
    done = crm_import(service.env, path)
    # Then
    assert done.returncode == 1
    assert "2 invalid rows; nothing was recorded" in done.stdout
    assert "line 3, column total: Input should be a valid decimal (given: 'twelve')" in done.stdout
    assert "line 5, column occurred_at: Input should have timezone info" in done.stdout
    assert imported_events(service.env["CRM_DATABASE_URL"], ref)["registered"] == 0


def test_a_header_without_a_required_column_is_refused(service, tmp_path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [["r", "2024-05-01T12:00:00Z", "Z-1", "1"]],
        header=["customer_ref", "occurred_at", "order_id", "total"],
    )
    done = crm_import(service.env, path)
    assert done.returncode == 1
    assert "line 1, column currency: this column is missing from the header row" in done.stdout


def test_a_run_killed_midway_then_run_again_records_every_row_once(service, tmp_path) -> None:
    # Given a large file, whose import is killed (SIGKILL) once some purchases are recorded
    ref, rows = f"imp-{uuid.uuid4().hex[:8]}", 20_000
    path = write_csv(
        tmp_path / "large.csv",
        [
            [f"{ref}-{n % 1000:04d}", "2024-06-01T00:00:00Z", f"L-{n}", "1.00", "EUR", "", ""]
            for n in range(rows)
        ],
    )
    url = service.env["CRM_DATABASE_URL"]
    process = subprocess.Popen(
        [CRM, "import", "purchases", str(path)],
        env=service.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: imported_events(url, ref)["purchases"] >= 2_000, seconds=60)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert imported_events(url, ref)["purchases"] < rows
    # When
    done = crm_import(service.env, path)
    # Then
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{rows:,} rows; " in done.stdout
    assert imported_events(url, ref) == {
        "registered": 1000,
        "purchases": rows,
        "distinct orders": rows,
    }
