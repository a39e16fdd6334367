"""Purchases from a CSV file (`crm import purchases`), read as a stream and validated row by row.

Columns (docs/crm.md, "Bulk import of purchases"): `customer_ref,occurred_at,order_id,total,currency`, optional `quantity`,
`sku`, `payment_method`, in any order, named in a header row. Values are stripped of
surrounding spaces; an empty cell is an absent value.
Each row is validated as the `RecordPurchase` it becomes, so a row is refused exactly when the
same purchase would be refused over HTTP; a refusal names its line and its column.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import TypeAdapter, ValidationError

from commands.customers import RecordPurchase, Ref

REQUIRED = ("customer_ref", "occurred_at", "order_id", "total", "currency")
OPTIONAL = ("quantity", "sku", "payment_method")
ITEM_COLUMNS = ("quantity", "sku")
"""Columns that make the order's one item line, when either is given."""

_REF = TypeAdapter(Ref)


@dataclass(frozen=True)
class RowError:
    """Why a line of the file cannot be imported; `column` is None for the line as a whole."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class BadFile(Exception):  # noqa: N818 - it says what the file is
    """The file cannot be read as a purchases CSV at all (its header, its encoding)."""

    def __init__(self, fault: RowError) -> None:
        super().__init__(str(fault))


@dataclass(frozen=True)
class PurchaseRow:
    """A valid row: the customer's reference and the purchase to record for it."""

    line: int
    customer_ref: str
    purchase: RecordPurchase


@dataclass
class Reading:
    """How far a reading of the file has got, in bytes (for a progress bar)."""

    bytes: int = 0


def read_rows(path: Path, reading: Reading | None = None) -> Iterator[PurchaseRow | RowError]:
    """Each data row of the file, valid or not, in file order; blank lines are skipped.

    Raises BadFile for a header that lacks or repeats a column or names an unknown one, and
    for a line that is not UTF-8 text.
    """
    with path.open("rb") as file:
        reader = csv.reader(_decoded(file, reading or Reading()))
        columns = _columns(next(reader, []))
        for values in reader:
            if values:
                yield parse_row(reader.line_num, columns, values)


def parse_row(line: int, columns: list[str], values: list[str]) -> PurchaseRow | RowError:
    """The row at `line` validated, or what is wrong with it (its first fault)."""
    if len(values) != len(columns):
        return RowError(line, None, f"{len(values)} values for {len(columns)} columns")
    given = {
        name: text for name, value in zip(columns, values, strict=True) if (text := value.strip())
    }
    for name in REQUIRED:
        if name not in given:
            return RowError(line, name, "a value is required")
    try:
        ref = _REF.validate_python(given["customer_ref"])
    except ValidationError as error:
        return _fault(line, error, "customer_ref")
    try:
        purchase = RecordPurchase.model_validate(_purchase_fields(given))
    except ValidationError as error:
        return _fault(line, error)
    return PurchaseRow(line, ref, purchase)


def _columns(header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    known = (*REQUIRED, *OPTIONAL)
    for name in names:
        if name not in known:
            raise BadFile(RowError(1, name, f"unknown column; the columns are {', '.join(known)}"))
        if names.count(name) > 1:
            raise BadFile(RowError(1, name, "this column is named twice"))
    for name in REQUIRED:
        if name not in names:
            raise BadFile(RowError(1, name, "this column is missing from the header row"))
    return names


def _purchase_fields(given: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        name: given[name] for name in REQUIRED[1:] + ("payment_method",) if name in given
    }
    item = {name: given[name] for name in ITEM_COLUMNS if name in given}
    if item:
        fields["items"] = [item]
    return fields


def _fault(line: int, error: ValidationError, column: str | None = None) -> RowError:
    first = error.errors(include_url=False)[0]
    location = first["loc"]  # ("total",) or ("items", 0, "sku"): a column either way
    named = column or str(location[-1] if location[0] == "items" else location[0])
    return RowError(line, named, f"{first['msg']} (given: {first['input']!r})")


def _decoded(file: BinaryIO, reading: Reading) -> Iterator[str]:
    """The file's lines as text (a byte order mark at its start is dropped)."""
    for number, raw in enumerate(file, 1):
        reading.bytes += len(raw)
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            fault = f"not UTF-8 text ({error.reason} at byte {error.start + 1} of the line)"
            raise BadFile(RowError(number, None, fault)) from None
