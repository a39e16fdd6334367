"""Pure `(row, event) -> row` functions of the campaigns read model.

A row is a campaign as the API shows it: its templates and audience as drafted, its status
(draft, sending, sent) and, once sent, how many emails were sent and suppressed. No wall
clock and no derived state of other streams: a rebuild equals the live table.
"""

from collections.abc import Callable

from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads import campaign
from projections.projection import Row, fold_stream


def key(event: Envelope) -> str | None:
    """Rows are per campaign."""
    return event.stream_id if event.payload_type in _APPLIERS else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing. An event
    of a campaign without a row (never drafted) raises LookupError: it is parked, not skipped."""
    return row if key(event) is None else fold_stream(row, event, campaign.Drafted, _APPLIERS)


def _drafted(_: Row, event: Envelope) -> Row:
    data = event.data
    return {
        "campaign_id": event.stream_id,
        "name": data["name"],
        "subject": data["subject"],
        "body_html": data["body_html"],
        "audience": data["audience"],
        "status": "draft",
        "sent": None,
        "suppressed": None,
    }


def _recipients_added(row: Row, event: Envelope) -> Row:
    audience = row["audience"]
    listed = [*audience["customer_ids"], *event.data["customer_ids"]]
    return row | {"audience": audience | {"customer_ids": listed}}


def _send_requested(row: Row, _: Envelope) -> Row:
    return row | {"status": "sending"}


def _completed(row: Row, event: Envelope) -> Row:
    data = event.data
    return row | {"status": "sent", "sent": data["sent"], "suppressed": data["suppressed"]}


_APPLIERS: dict[type[Payload], Callable[[Row, Envelope], Row]] = {
    campaign.Drafted: _drafted,
    campaign.RecipientsAdded: _recipients_added,
    campaign.SendRequested: _send_requested,
    campaign.Completed: _completed,
}
