"""Pure `(row, event) -> row` functions of the campaign_recipients read model.

A row is what one customer's copy of one campaign's email went through: sent or suppressed,
opens (by people, and by machines such as image proxies, kept apart), clicks and bounce, with
the first business time (`occurred_at`) of each. No wall clock: a rebuild equals the live table.
"""

from collections.abc import Callable
from datetime import datetime

from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads import customer
from projections.projection import Row


def key(event: Envelope) -> str | None:
    """Rows are per (campaign, customer): `"{campaign_id}/{customer_id}"`."""
    if event.payload_type not in _APPLIERS:
        return None
    return f"{event.data['campaign_id']}/{event.customer_id}"


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing."""
    apply = _APPLIERS.get(event.payload_type)
    if apply is None or (row is not None and event.position <= row["last_position"]):
        return row
    new = apply(dict(row) if row is not None else _fresh(event), event)
    new["last_position"] = event.position
    return new


def _fresh(event: Envelope) -> Row:
    return {
        "campaign_id": event.data["campaign_id"],
        "customer_id": event.customer_id,
        "sent": False,
        "sent_at": None,
        "suppressed": False,
        "suppression_reason": None,
        "opened": False,
        "first_opened_at": None,
        "opens": 0,
        "machine_opened": False,
        "first_machine_opened_at": None,
        "machine_opens": 0,
        "clicked": False,
        "first_clicked_at": None,
        "clicks": 0,
        "bounced": False,
        "bounced_at": None,
    }


def _sent(row: Row, event: Envelope) -> Row:
    return row | {"sent": True, "sent_at": event.occurred_at}


def _suppressed(row: Row, event: Envelope) -> Row:
    return row | {"suppressed": True, "suppression_reason": event.data["reason"]}


def _opened(row: Row, event: Envelope) -> Row:
    kind = "machine_" if event.data["machine"] else ""
    return row | {
        f"{kind}opened": True,
        f"first_{kind}opened_at": _earliest(row[f"first_{kind}opened_at"], event.occurred_at),
        f"{kind}opens": row[f"{kind}opens"] + 1,
    }


def _clicked(row: Row, event: Envelope) -> Row:
    return row | {
        "clicked": True,
        "first_clicked_at": _earliest(row["first_clicked_at"], event.occurred_at),
        "clicks": row["clicks"] + 1,
    }


def _bounced(row: Row, event: Envelope) -> Row:
    return row | {"bounced": True, "bounced_at": _earliest(row["bounced_at"], event.occurred_at)}


def _earliest(known: datetime | None, new: datetime) -> datetime:
    return new if known is None else min(known, new)


_APPLIERS: dict[type[Payload], Callable[[Row, Envelope], Row]] = {
    customer.EmailSent: _sent,
    customer.EmailSuppressed: _suppressed,
    customer.EmailOpened: _opened,
    customer.EmailClicked: _clicked,
    customer.EmailBounced: _bounced,
}
