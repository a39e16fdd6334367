"""Pure `(row, event) -> row` functions of the leads read model.

A row is a lead as the API shows it: status, owner, engagement counts, and the score with
its explanation as the last `Lead.Scored` event gave them (the score is never recomputed
here: the rules in force then decided it). Only business times (`occurred_at`) and
positions go into a row, never the wall clock, so a rebuild equals the live table.
"""

from collections.abc import Callable

from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads import lead
from domain.lead import engaged
from projections.projection import Row, fold_stream


def key(event: Envelope) -> str | None:
    """Rows are per lead."""
    return event.stream_id if event.payload_type in _APPLIERS else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing. An event
    of a lead without a row (never captured) raises LookupError: it is parked, not skipped."""
    return row if key(event) is None else fold_stream(row, event, lead.Captured, _APPLIERS)


def blank(row: Row) -> Row:
    """The row of a lead converted into a customer who is erased, as its events fold with
    their personal fields blank: no name, email, company, attributes or reason."""
    reason = row["disqualified_reason"]
    return row | {
        "name": "",
        "email": None,
        "company": None,
        "attributes": {},
        "disqualified_reason": None if reason is None else "",
    }


def _captured(_: Row, event: Envelope) -> Row:
    data = event.data
    return {
        "lead_id": event.stream_id,
        "status": "new",
        "name": data["personal"]["name"],
        "email": data["personal"].get("email"),
        "company": data["company"],
        "source": data["source"],
        "attributes": data["attributes"],
        "owner_id": data["owner_id"],
        "duplicate_of": data["duplicate_of"],
        "score": 0,
        "score_rules_version": 0,
        "score_explanation": [],
        "engagement": {},
        "disqualified_reason": None,
        "customer_id": None,
        "deal_id": None,
        "captured_at": event.occurred_at,
    }


def _scored(row: Row, event: Envelope) -> Row:
    score = event.data["score"]
    return row | {
        "score": score["points"],
        "score_rules_version": score["rules_version"],
        "score_explanation": score["explanation"],
    }


def _qualified(row: Row, _: Envelope) -> Row:
    return row | {"status": "qualified", "disqualified_reason": None}


def _disqualified(row: Row, event: Envelope) -> Row:
    return row | {"status": "disqualified", "disqualified_reason": event.data["reason"]}


def _converted(row: Row, event: Envelope) -> Row:
    data = event.data
    return row | {
        "status": "converted",
        "customer_id": data["converted_to"],
        "deal_id": data["deal_id"],
    }


def _engaged(row: Row, event: Envelope) -> Row:
    return row | {"engagement": engaged(row["engagement"], event.data["kind"])}


_APPLIERS: dict[type[Payload], Callable[[Row, Envelope], Row]] = {
    lead.Captured: _captured,
    lead.Scored: _scored,
    lead.Qualified: _qualified,
    lead.Disqualified: _disqualified,
    lead.Converted: _converted,
    lead.EngagementRecorded: _engaged,
}
