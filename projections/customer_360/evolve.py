"""Pure `(row, event) -> row` functions of the customer 360 read model.

A row is a dict of the table's columns. Only business time (`occurred_at`) and positions
go into a row, never the wall clock, so a rebuild equals the live table row for row.
Purchases and interactions may arrive out of business-time order (imports): first and
last times are minimum and maximum, not "latest applied". The customer's tickets and deals
(their events carry `customer_id`) are kept by id with their status; the row's `version`
stays the customer's own.
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.customer import Customer
from domain.deal import deal_status
from domain.events.envelope import Envelope
from domain.events.payload import Payload, blank_personal
from domain.events.payloads import customer, deal, ticket
from domain.pipeline import LOST_STAGE, WON_STAGE, Stage
from projections.projection import Row


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing."""
    if row is not None and event.position <= row["last_position"]:
        return row
    own = event.aggregate is Customer
    apply = _APPLIERS.get(event.payload_type, _unchanged if own else None)
    if apply is None:
        return row
    if row is None and event.payload_type is not customer.Registered:
        return None
    new = apply(dict(row or {}), event)
    if own:
        new["version"] = event.stream_version  # the customer's version, not a ticket's
    new["last_position"] = event.position
    new["updated_at"] = _latest(new.get("updated_at"), event.occurred_at)
    return new


def _registered(row: Row, event: Envelope) -> Row:
    data = event.data
    personal = data["personal"]
    row.update(
        customer_id=event.stream_id,
        external_ref=data.get("external_ref"),
        name=personal["name"],
        email=personal.get("email"),
        phone=personal.get("phone"),
        personal=personal,
        profile=data["profile"],
        tags=sorted(data["tags"]),
        consent=data["consent"],
        custom_fields=data["custom_fields"],
        purchase_count=0,
        purchase_currency=None,
        purchase_total=Decimal(0),
        first_purchase_at=None,
        last_purchase_at=None,
        purchase_totals={},
        feedback_count=0,
        rating_sum=0,
        last_interaction_at=None,
        interactions={},
        tickets={},
        deals={},
        email_engagement=dict(NO_EMAIL),
        registered_at=event.occurred_at,
        updated_at=event.occurred_at,
    )
    return row


def _profile_changed(row: Row, event: Envelope) -> Row:
    personal = {**row["personal"], **event.data["personal"]}
    custom = {**row["custom_fields"], **event.data["custom_fields"]}
    row.update(
        personal=personal,
        name=personal["name"],
        email=personal.get("email"),
        phone=personal.get("phone"),
        profile={**row["profile"], **event.data["profile"]},
        custom_fields={k: v for k, v in custom.items() if v is not None},
    )
    return row


def _erased(row: Row, _event: Envelope) -> Row:
    """The customer's personal data blank, as their events fold once erased (their personal
    fields read as blanks): name, contact details, profile, custom fields, the subjects of
    contacts and tickets and the titles of deals; counts, amounts, times, tags and consent
    stay."""
    personal = blank_personal(customer.Registered, {})
    row.update(
        personal=personal["personal"],
        name=personal["personal"]["name"],
        email=None,
        phone=None,
        profile=personal["profile"],
        custom_fields=personal["custom_fields"],
        interactions={k: v | {"subject": None} for k, v in row["interactions"].items()},
        tickets={k: v | {"subject": ""} for k, v in row["tickets"].items()},
        deals={k: v | {"title": ""} for k, v in row["deals"].items()},
    )
    return row


def _tags_changed(row: Row, event: Envelope) -> Row:
    tags = (set(row["tags"]) | set(event.data["added"])) - set(event.data["removed"])
    row["tags"] = sorted(tags)
    return row


def _consent_changed(row: Row, event: Envelope) -> Row:
    row["consent"] = {**row["consent"], **event.data["changes"]}
    return row


def _purchase_recorded(row: Row, event: Envelope) -> Row:
    currency, total = event.data["currency"], Decimal(event.data["total"])
    totals = dict(row["purchase_totals"])
    before = totals.get(currency, {"count": 0, "total": "0"})
    totals[currency] = {
        "count": before["count"] + 1,
        "total": str(Decimal(before["total"]) + total),
    }
    main = row["purchase_currency"] or currency
    row.update(
        purchase_count=row["purchase_count"] + 1,
        purchase_currency=main,
        purchase_total=Decimal(totals[main]["total"]),
        purchase_totals=totals,
        first_purchase_at=_earliest(row["first_purchase_at"], event.occurred_at),
        last_purchase_at=_latest(row["last_purchase_at"], event.occurred_at),
    )
    return row


def _interaction_logged(row: Row, event: Envelope) -> Row:
    channel, at = event.data["channel"], event.occurred_at
    interactions = dict(row["interactions"])
    before = interactions.get(channel)
    latest = before is None or at >= datetime.fromisoformat(before["last_at"])
    interactions[channel] = {
        "count": (before["count"] if before else 0) + 1,
        "last_at": at.isoformat() if latest else before["last_at"],
        "direction": event.data["direction"] if latest else before["direction"],
        "subject": event.data.get("subject") if latest else before["subject"],
    }
    row.update(
        interactions=interactions,
        last_interaction_at=_latest(row["last_interaction_at"], at),
    )
    return row


def _feedback_given(row: Row, event: Envelope) -> Row:
    row.update(
        feedback_count=row["feedback_count"] + 1,
        rating_sum=row["rating_sum"] + event.data["rating"],
    )
    return row


NO_EMAIL = {"sent": 0, "suppressed": 0, "bounced": 0, "opens": 0, "machine_opens": 0,
            "clicks": 0, "last_opened_at": None, "last_clicked_at": None}  # fmt: skip
"""A customer's email engagement before any campaign: opens by machines (image proxies,
prefetches) are counted apart from people's."""


def _unchanged(row: Row, _event: Envelope) -> Row:
    """A customer event this view shows nothing of: only the version and times move on."""
    return row


def _email(counter: str, last: str | None = None) -> Callable[[Row, Envelope], Row]:
    def counted(row: Row, event: Envelope) -> Row:
        if counter == "opens" and event.data["machine"]:
            return _email("machine_opens")(row, event)
        engagement = {**NO_EMAIL, **row["email_engagement"]}  # {} in rows made before it
        engagement[counter] += 1
        if last is not None:
            at = event.occurred_at.isoformat()
            engagement[last] = max(engagement[last] or at, at)
        row["email_engagement"] = engagement
        return row

    return counted


def _ticket_opened(row: Row, event: Envelope) -> Row:
    data = event.data
    opened = {
        "kind": data["kind"],
        "subject": data["subject"],
        "priority": data["priority"],
        "status": "open",
        "opened_at": event.occurred_at.isoformat(),
    }
    row["tickets"] = {**row["tickets"], event.stream_id: opened}
    return row


def _ticket_status_changed(row: Row, event: Envelope) -> Row:
    return _update(row, "tickets", event.stream_id, status=event.data["status"])


def _deal_opened(row: Row, event: Envelope) -> Row:
    data = event.data
    opened = {
        "title": data["title"],
        "amount": data["amount"],
        "currency": data["currency"],
        "stage": data["stage"],
        "probability": data["probability"],
        "status": deal_status(data["stage"]),
        "opened_at": event.occurred_at.isoformat(),
    }
    row["deals"] = {**row["deals"], event.stream_id: opened}
    return row


def _deal_entered_stage(row: Row, event: Envelope) -> Row:
    return _deal_in(row, event, event.data["stage"], event.data["probability"])


def _deal_amount_changed(row: Row, event: Envelope) -> Row:
    amount, currency = event.data["amount"], event.data["currency"]
    return _update(row, "deals", event.stream_id, amount=amount, currency=currency)


def _deal_closed(stage: Stage) -> Callable[[Row, Envelope], Row]:
    def closed(row: Row, event: Envelope) -> Row:
        return _deal_in(row, event, stage.name, stage.probability)

    return closed


def _deal_in(row: Row, event: Envelope, stage: str, probability: int) -> Row:
    """The deal of `event` in `stage`, at `probability`, with the status that follows."""
    status = deal_status(stage)
    return _update(
        row, "deals", event.stream_id, stage=stage, probability=probability, status=status
    )


def _update(row: Row, column: str, key: str, **changes: Any) -> Row:
    """`row` with the entry `key` of a jsonb map column changed (an entry not there is left)."""
    entries = row[column]
    if key in entries:
        row[column] = {**entries, key: {**entries[key], **changes}}
    return row


def _earliest(current: Any, candidate: Any) -> Any:
    return candidate if current is None or candidate < current else current


def _latest(current: Any, candidate: Any) -> Any:
    return candidate if current is None or candidate > current else current


_APPLIERS: dict[type[Payload], Callable[[Row, Envelope], Row]] = {
    customer.Registered: _registered,
    customer.ProfileChanged: _profile_changed,
    customer.TagsChanged: _tags_changed,
    customer.ConsentChanged: _consent_changed,
    customer.PurchaseRecorded: _purchase_recorded,
    customer.InteractionLogged: _interaction_logged,
    customer.FeedbackGiven: _feedback_given,
    customer.EmailSent: _email("sent"),
    customer.EmailSuppressed: _email("suppressed"),
    customer.EmailBounced: _email("bounced"),
    customer.EmailOpened: _email("opens", "last_opened_at"),
    customer.EmailClicked: _email("clicks", "last_clicked_at"),
    customer.Erased: _erased,
    ticket.Opened: _ticket_opened,
    ticket.StatusChanged: _ticket_status_changed,
    deal.Opened: _deal_opened,
    deal.StageMoved: _deal_entered_stage,
    deal.Reopened: _deal_entered_stage,
    deal.AmountChanged: _deal_amount_changed,
    deal.Won: _deal_closed(WON_STAGE),
    deal.Lost: _deal_closed(LOST_STAGE),
}
