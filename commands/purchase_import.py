"""Importing purchases from a CSV file through the command bus (`crm import purchases`).

Two readings of the file. The first (`survey`) validates every row and notes each customer's
earliest purchase time; a file with a bad row is refused whole, before anything is written, with
each fault's line and column. The second (`PurchaseImport.run`) takes the rows by windows of
`WINDOW`: it resolves their customer references against the unique claims in one query,
registers the customers not yet known (named after their reference, at the time of their
earliest purchase in the file), and submits the purchases, with their historical `occurred_at`,
to the bus without waiting: the bus saves hundreds of them per transaction while the next window
is read. A window is sorted by customer (each customer's rows stay in file order), so that a
group commit loads and saves fewer aggregates (docs/decisions/0010-import-windows.md).

The bus keeps the aggregates it wrote at their latest version, so the process is given a cache
of every customer of the file, up to a bound (`cached_customers`): a customer who left the cache
is rebuilt from all their events the next time, and with the rows in time order nearly every
row would come back to a customer who left it, at a cost that grows with the store. A cached
customer is still brought up to date with what other processes recorded since (`read_many`),
and a save over a change made in between is refused by the store and decided again.

Re-running a file records nothing new, also after a crash midway: a known reference resolves to
its customer, and the Customer aggregate refuses an order id it already holds (counted as
already there). No Idempotency-Key is stored per row; it would add a write per purchase for
what the claims and the aggregate already guarantee.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from psycopg import Connection
from psycopg_pool import ConnectionPool

from commands.bus import CommandBus
from commands.context import CommandContext, Outcome, Target
from commands.customers import EXTERNAL_REF, RegisterCustomer
from commands.purchase_csv import PurchaseRow, Reading, RowError, read_rows
from domain.errors import OrderAlreadyRecorded

ACTOR = "crm-import"
WINDOW = 10_000
"""Rows read, sorted by customer, and resolved in one query before they are submitted."""
CHUNK = 500
"""Rows whose answers are counted together (the progress bar's step)."""
SHOWN_ERRORS = 20


@dataclass
class Survey:
    """What the first reading found: rows, the first faults, and each customer's first time."""

    rows: int = 0
    faults: int = 0
    errors: list[RowError] = field(default_factory=list)
    first_seen: dict[str, datetime] = field(default_factory=dict)


def survey(path: Path, progress: Callable[[int], Any] = lambda _: None) -> Survey:
    """Validates every row of the file; raises BadFile if it cannot be read at all.

    `progress(bytes)` is told how far the reading has got, every `WINDOW` rows."""
    found, reading = Survey(), Reading()
    first_seen = found.first_seen
    for row in read_rows(path, reading):
        found.rows += 1
        if found.rows % WINDOW == 0:
            progress(reading.bytes)
        if isinstance(row, RowError):
            found.faults += 1
            if len(found.errors) < SHOWN_ERRORS:
                found.errors.append(row)
            continue
        when = row.purchase.occurred_at
        known = first_seen.get(row.customer_ref)
        if known is None or when < known:  # type: ignore[operator]
            first_seen[row.customer_ref] = when  # type: ignore[assignment]
    progress(reading.bytes)
    return found


def cached_customers(found: Survey, bound: int) -> int:
    """The aggregate cache of an import: every customer of the file, up to `bound`."""
    return min(len(found.first_seen), bound)


@dataclass
class Summary:
    """What an import did; `failure` is the first row that could not be recorded."""

    rows: int = 0
    recorded: int = 0
    already_there: int = 0
    registered: int = 0
    failure: RowError | None = None


Submitted = list[tuple[int, bool, "Future[Outcome]"]]
"""A chunk in flight: (line, is a registration, answer) per command."""


class PurchaseImport:
    """Submits a surveyed file's rows to the bus window by window, and counts the answers."""

    def __init__(
        self, bus: CommandBus, pool: ConnectionPool, path: Path, first_seen: dict[str, datetime]
    ) -> None:
        self._bus = bus
        self._pool = pool
        self._source = path.name
        self._first_seen = first_seen
        self._customers: dict[str, UUID] = {}
        self.correlation_id = str(uuid4())
        """Shared by every event of this import."""

    def run(self, rows: Iterable[PurchaseRow | RowError], advance: Callable[[int], Any]) -> Summary:
        """Imports the rows, stopping at the first that fails; `advance(n)` as n are done."""
        summary = Summary()
        in_flight: deque[Submitted] = deque()
        for window, fault in _windows(rows):
            window.sort(key=attrgetter("customer_ref"))
            new = self._resolve({row.customer_ref for row in window})
            for start in range(0, len(window), CHUNK):
                in_flight.append(self._submit(window[start : start + CHUNK], new))
            while len(in_flight) > WINDOW // CHUNK:
                advance(self._count(in_flight.popleft(), summary))
            summary.failure = summary.failure or fault  # invalid now: the file has changed
            if summary.failure:
                break
        while in_flight:
            advance(self._count(in_flight.popleft(), summary))
        return summary

    def _submit(self, chunk: list[PurchaseRow], new: set[str]) -> Submitted:
        """Submits a chunk's purchases, each new customer's registration before its first."""
        received_at = datetime.now(UTC)
        submitted: Submitted = []
        for row in chunk:
            ref = row.customer_ref
            context = CommandContext(
                actor=ACTOR,
                correlation_id=self.correlation_id,
                causation_id=f"{self._source}:{row.line}",
                received_at=received_at,
            )
            if ref in new:
                new.discard(ref)
                register = RegisterCustomer(
                    external_ref=ref, name=ref, occurred_at=self._first_seen.get(ref)
                )
                target = Target(self._customers[ref], creates=True)
                submitted.append((row.line, True, self._bus.submit(target, register, context)))
            target = Target(self._customers[ref])
            submitted.append((row.line, False, self._bus.submit(target, row.purchase, context)))
        return submitted

    def _resolve(self, refs: set[str]) -> set[str]:
        """Finds the customers of references not seen yet; returns those to register."""
        unseen = [ref for ref in refs if ref not in self._customers]
        if not unseen:
            return set()
        with self._pool.connection() as conn:
            claimed = claimed_customers(conn, unseen)
        self._customers.update(claimed)
        new = {ref for ref in unseen if ref not in claimed}
        self._customers.update((ref, uuid4()) for ref in new)
        return new

    @staticmethod
    def _count(submitted: Submitted, summary: Summary) -> int:
        """Waits for a chunk's answers and counts them; returns its number of rows."""
        rows = 0
        for line, registers, answer in submitted:
            error = answer.exception()
            if error is not None:  # its traceback holds the bus's frames, which hold it
                error.__traceback__ = None  # freed now rather than by a full collection
            if registers:
                summary.registered += error is None
            else:
                rows += 1
                summary.recorded += error is None
                summary.already_there += isinstance(error, OrderAlreadyRecorded)
            if error is not None and not isinstance(error, OrderAlreadyRecorded):
                if summary.failure is None or line < summary.failure.line:
                    summary.failure = RowError(line, None, f"not recorded: {error}")
        summary.rows += rows
        return rows


def _windows(
    rows: Iterable[PurchaseRow | RowError],
) -> Iterator[tuple[list[PurchaseRow], RowError | None]]:
    """Up to `WINDOW` rows at a time; a fault ends the window it is in, and the last."""
    window: list[PurchaseRow] = []
    for row in rows:
        if isinstance(row, RowError):
            yield window, row
            return
        window.append(row)
        if len(window) == WINDOW:
            yield window, None
            window = []
    if window:
        yield window, None


def claimed_customers(conn: Connection[Any], refs: list[str]) -> dict[str, UUID]:
    """External reference -> customer id, for the references some customer holds."""
    rows = conn.execute(
        "SELECT value, aggregate_id FROM crm_unique_claims WHERE kind = %s AND value = ANY(%s)",
        (EXTERNAL_REF, refs),
    ).fetchall()
    return {value: customer_id for value, customer_id in rows}
