"""A deal's row as it stood at a past time, read from the histories the row keeps.

`stage_history` and `amount_history` hold every stage entry and every amount of the deal,
each with its business time (`entered_at`, `at`) and the time its event was recorded. The
row as of a business time and/or a recorded time keeps the entries at or before it and takes
its stage, status and amount from the last one kept: what folding only the deal's events at
or before that time gives (a law of the tests), without reading the event store. (Should
imports put business times out of the recorded order, the events known at a business time
may be no sequence the domain records, such as won then moved; the status follows the stage
all the same, as in their fold: `domain.deal.deal_status`.)
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.deal import deal_status
from domain.pipeline import CLOSED, LOST, WON
from projections.projection import Row

Entry = dict[str, Any]


def as_of(
    row: Row, occurred: datetime | None = None, recorded: datetime | None = None
) -> Row | None:
    """The row as it stood at business time `occurred`, as far as it was recorded by
    `recorded` (None: no bound on that clock); None if the deal was not opened by then.
    Its version and position stay the row's own."""
    stays = _known(row["stage_history"], "entered_at", occurred, recorded)
    if not stays:
        return None
    amounts = _known(row["amount_history"], "at", occurred, recorded)
    history = [
        stay | {"left_at": after["entered_at"] if after else None}
        for stay, after in zip(stays, [*stays[1:], None], strict=True)
    ]
    return (
        row
        | _state(history[-1], amounts[-1])
        | {
            "stage_history": history,
            "amount_history": amounts,
        }
    )


def _known(
    entries: list[Entry], business: str, occurred: datetime | None, recorded: datetime | None
) -> list[Entry]:
    """The entries at or before `occurred` (by their `business` time) and `recorded`; none
    unless the first (the deal's opening) is one of them."""
    known = [
        entry
        for entry in entries
        if (occurred is None or _time(entry[business]) <= occurred)
        and (recorded is None or _time(entry["recorded_at"]) <= recorded)
    ]
    return known if known and known[0] is entries[0] else []


def _state(stay: Entry, amount: Entry) -> Row:
    """The columns that follow from the deal's current stay and amount."""
    stage = stay["stage"]
    closed_at = _time(stay["entered_at"]) if stage in CLOSED else None
    return {
        "stage": stage,
        "probability": stay["probability"],
        "status": deal_status(stage),
        "lost_reason": stay.get("reason"),
        "closed_at": closed_at,
        "won_at": closed_at if stage == WON else None,
        "lost_at": closed_at if stage == LOST else None,
        "amount": Decimal(amount["amount"]),
        "currency": amount["currency"],
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
