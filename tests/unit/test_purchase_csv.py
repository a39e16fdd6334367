"""Reading a purchases CSV: each row becomes the RecordPurchase it says, or names its fault."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from commands.customers import ItemLine
from commands.purchase_csv import BadFile, PurchaseRow, RowError, read_rows


def rows(tmp_path: Path, text: str, encoding: str = "utf-8") -> list[PurchaseRow | RowError]:
    path = tmp_path / "p.csv"
    path.write_text(text, encoding=encoding)
    return list(read_rows(path))


def test_a_row_becomes_a_purchase_at_its_business_time(tmp_path) -> None:
    [row] = rows(
        tmp_path,
        "order_id,customer_ref,occurred_at,total,currency,sku,quantity,payment_method\n"
        "A-1, shop-1 ,2024-03-01T10:00:00+02:00, 9.90 ,EUR,TEA-01,2,card\n",
    )
    assert isinstance(row, PurchaseRow)
    assert (row.line, row.customer_ref) == (2, "shop-1")
    assert row.purchase.occurred_at == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert (row.purchase.order_id, row.purchase.total) == ("A-1", Decimal("9.90"))
    assert row.purchase.items == [ItemLine(sku="TEA-01", quantity=2)]
    assert row.purchase.payment_method == "card"


def test_empty_optional_cells_and_blank_lines_are_nothing(tmp_path) -> None:
    found = rows(
        tmp_path,
        "\ufeffcustomer_ref,occurred_at,order_id,total,currency,sku,quantity\n"
        "\n"
        "c,2024-01-01T00:00:00Z,B-1,0,EUR,,\n",
        encoding="utf-8",
    )
    assert [(r.line, r.purchase.items) for r in found] == [(3, [])]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("c,2024-01-01T00:00:00Z,B-1,1,EUR,0", "line 2, column quantity: Input should be"),
        ("c,2024-01-01T00:00:00Z,B-1,-1,EUR,", "line 2, column total: Input should be"),
        ("c,2024-01-01T00:00:00Z,B-1,1,QQQ,", "line 2, column currency: Invalid ISO 4217"),
        (",2024-01-01T00:00:00Z,B-1,1,EUR,", "line 2, column customer_ref: a value is required"),
        ("c,2999-01-01T00:00:00Z,B-1,1,EUR,", "line 2, column occurred_at: Value error, must"),
        ("c,2024-01-01T00:00:00Z,B-1,1,EUR,1,2", "line 2: 7 values for 6 columns"),
    ],
)
def test_a_bad_row_names_its_line_and_column(tmp_path, line: str, expected: str) -> None:
    [row] = rows(tmp_path, f"customer_ref,occurred_at,order_id,total,currency,quantity\n{line}\n")
    assert str(row).startswith(expected)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("customer_ref,occurred_at,order_id,total", "column currency: this column is missing"),
        ("customer_ref,occurred_at,order_id,total,currency,price", "column price: unknown"),
        ("customer_ref,occurred_at,order_id,total,currency,sku,sku", "column sku: this column is"),
    ],
)
def test_a_bad_header_refuses_the_file(tmp_path, header: str, expected: str) -> None:
    with pytest.raises(BadFile, match=f"line 1, {expected}"):
        rows(tmp_path, f"{header}\n")


def test_text_that_is_not_utf8_refuses_the_file(tmp_path) -> None:
    with pytest.raises(BadFile, match="line 2: not UTF-8 text"):
        rows(tmp_path, "customer_ref,occurred_at,order_id,total,currency\né,x,y,z,w\n", "latin-1")
