"""Pure `(row, event) -> row` functions of the deals read model.

A row is one deal as `domain.deal.Deal` holds it, folded from the deal's events, plus what
pipeline reports need: `status` (open, won, lost), when it was won or lost (cleared when it
is reopened), and `stage_history`, every stay in a stage with its win probability then and
the business times it was entered and left (ISO 8601 strings; `left_at` None while in it).
For time travel (`projections.deals.history`), each stay also holds when its event was
recorded (and a lost one its reason), and `amount_history` every amount the deal had, with
its business and recorded times. Amounts stay Decimal (strings in the histories). No wall
clock: a rebuild equals the live table.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from domain.deal import OPEN, Deal, deal_status
from domain.events.envelope import Envelope
from domain.events.payload import blank_personal
from domain.events.payloads import deal
from domain.pipeline import LOST_STAGE, WON_STAGE, Stage
from projections.projection import Appliers, Row, fold_stream


def key(event: Envelope) -> str | None:
    """Rows are per deal: the id of the deal's stream."""
    return event.stream_id if event.aggregate is Deal else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing. A deal
    event this model does not show moves the version; one before the deal is opened is
    parked (LookupError)."""
    return row if key(event) is None else fold_stream(row, event, deal.Opened, _APPLIERS)


def blank(row: Row) -> Row:
    """The row once the deal's customer is erased, as its events fold with their personal
    fields blank: the opening's personal fields (the title...) and any lost reason."""
    reason = blank_personal(deal.Lost, {})["reason"]
    return row | {
        **blank_personal(deal.Opened, {}),  # columns named as the fields
        "lost_reason": None if row["lost_reason"] is None else reason,
        "stage_history": [
            stay | {"reason": reason} if "reason" in stay else stay for stay in row["stage_history"]
        ],
    }


def _opened(_row: Row, event: Envelope) -> Row:
    data, at = event.data, event.occurred_at
    close = data.get("expected_close_date")
    return {
        "deal_id": event.stream_id,
        "customer_id": data["customer_id"],
        "title": data["title"],
        "amount": Decimal(data["amount"]),
        "currency": data["currency"],
        "stage": data["stage"],
        "status": OPEN,
        "probability": data["probability"],
        "expected_close_date": date.fromisoformat(close) if close else None,
        "owner": data.get("owner"),
        "lost_reason": None,
        "opened_at": at,
        "closed_at": None,
        "won_at": None,
        "lost_at": None,
        "stage_history": [_stay(data["stage"], data["probability"], event)],
        "amount_history": [_amount(data, event)],
    }


def _moved(row: Row, event: Envelope) -> Row:
    return _entered(row, _stay(event.data["stage"], event.data["probability"], event))


def _amount_changed(row: Row, event: Envelope) -> Row:
    data = event.data
    return {
        "amount": Decimal(data["amount"]),
        "currency": data["currency"],
        "amount_history": [*row["amount_history"], _amount(data, event)],
    }


def _won(row: Row, event: Envelope) -> Row:
    at = event.occurred_at
    return _entered(row, _closing(WON_STAGE, event)) | {"won_at": at, "closed_at": at}


def _lost(row: Row, event: Envelope) -> Row:
    at, reason = event.occurred_at, event.data["reason"]
    closed = {"lost_at": at, "closed_at": at, "lost_reason": reason}
    return _entered(row, _closing(LOST_STAGE, event) | {"reason": reason}) | closed


def _reopened(row: Row, event: Envelope) -> Row:
    cleared = {"lost_reason": None, "closed_at": None, "won_at": None, "lost_at": None}
    return _moved(row, event) | cleared


def _entered(row: Row, stay: dict[str, Any]) -> Row:
    """The changes of a new `stay`: the one in the current stage ends as it begins."""
    *before, current = row["stage_history"]
    history = [*before, {**current, "left_at": stay["entered_at"]}, stay]
    return {
        "stage": stay["stage"],
        "status": deal_status(stay["stage"]),
        "probability": stay["probability"],
        "stage_history": history,
    }


def _closing(stage: Stage, event: Envelope) -> dict[str, Any]:
    return _stay(stage.name, stage.probability, event)


def _stay(stage: str, probability: int, event: Envelope) -> dict[str, Any]:
    return {
        "stage": stage,
        "probability": probability,
        "entered_at": event.occurred_at.isoformat(),
        "left_at": None,
        "recorded_at": event.recorded_at.isoformat(),
    }


def _amount(data: dict[str, Any], event: Envelope) -> dict[str, Any]:
    return {
        "amount": str(Decimal(data["amount"])),
        "currency": data["currency"],
        "at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
    }


_APPLIERS: Appliers = {
    deal.Opened: _opened,
    deal.StageMoved: _moved,
    deal.AmountChanged: _amount_changed,
    deal.Won: _won,
    deal.Lost: _lost,
    deal.Reopened: _reopened,
}
