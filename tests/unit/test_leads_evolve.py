"""The leads read model as a pure function of events: Given events, When folded, Then a row."""

from datetime import UTC, datetime
from functools import reduce

import pytest

from domain.events.envelope import Envelope
from projections.leads.evolve import evolve, key

LEAD = "2b7d1c4e-5a6f-4e8b-9c0d-1e2f3a4b5c6d"
EARLIER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"
DEAL = "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a"


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 12, minute, tzinfo=UTC)


def event(type_: str, version: int, **data: object) -> Envelope:
    """The lead's event at stream version `version` (also its position and minute)."""
    return Envelope(
        type=f"Lead.{type_}", stream_id=LEAD, stream_version=version, position=version,
        customer_id=None, occurred_at=at(version), recorded_at=at(version), actor="t",
        correlation_id="c", causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def captured(version: int = 1) -> Envelope:
    return event(
        "Captured", version,
        personal={"name": "Grace", "email": "Grace@Example.com", "phone": None},
        company="Navy Labs", source="webinar", attributes={"country": "FR", "size": 250},
        owner_id="rep-1", duplicate_of=EARLIER,
    )  # fmt: skip


def scored(version: int, points: int, *lines: tuple[str, int]) -> Envelope:
    explanation = [{"rule": rule, "points": p} for rule, p in lines]
    score = {"points": points, "rules_version": 3, "explanation": explanation}
    return event("Scored", version, score=score)


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_a_captured_lead_is_new_with_its_owner_and_a_zero_score() -> None:
    assert fold(captured()) == {
        "lead_id": LEAD, "version": 1, "last_position": 1, "status": "new",
        "name": "Grace", "email": "Grace@Example.com", "company": "Navy Labs",
        "source": "webinar", "attributes": {"country": "FR", "size": 250},
        "owner_id": "rep-1", "duplicate_of": EARLIER,
        "score": 0, "score_rules_version": 0, "score_explanation": [], "engagement": {},
        "disqualified_reason": None, "customer_id": None, "deal_id": None,
        "captured_at": at(1),
    }  # fmt: skip


def test_the_score_and_its_explanation_are_the_last_scored_events() -> None:
    # Given a lead scored at capture, then engaged twice and scored again
    row = fold(
        captured(),
        scored(2, 10, ("Webinar", 10)),
        event("EngagementRecorded", 3, kind="email_clicked"),
        scored(4, 14, ("Webinar", 10), ("Clicks", 4)),
        event("EngagementRecorded", 5, kind="email_clicked"),
        event("EngagementRecorded", 6, kind="email_opened"),
    )
    # Then the row holds the last score as recorded, and engagement counts by kind
    assert (row["score"], row["score_rules_version"]) == (14, 3)
    assert row["score_explanation"] == [
        {"rule": "Webinar", "points": 10},
        {"rule": "Clicks", "points": 4},
    ]
    assert row["engagement"] == {"email_clicked": 2, "email_opened": 1}
    assert (row["version"], row["last_position"]) == (6, 6)


def test_disqualified_then_qualified_again_forgets_the_reason() -> None:
    disqualified = fold(captured(), event("Disqualified", 2, reason="No budget"))
    assert (disqualified["status"], disqualified["disqualified_reason"]) == (
        "disqualified",
        "No budget",
    )
    again = evolve(disqualified, event("Qualified", 3))
    assert (again["status"], again["disqualified_reason"], again["version"]) == (
        "qualified",
        None,
        3,
    )


def test_a_conversion_names_the_customer_and_the_deal() -> None:
    row = fold(
        captured(),
        event("Qualified", 2),
        event("Converted", 3, converted_to=CUSTOMER, customer_created=True, deal_id=DEAL),
    )
    assert (row["status"], row["customer_id"], row["deal_id"]) == ("converted", CUSTOMER, DEAL)


def test_an_event_applied_again_changes_nothing() -> None:
    engaged = event("EngagementRecorded", 2, kind="email_opened")
    once = fold(captured(), engaged)
    assert evolve(once, engaged) == once
    assert evolve(once, captured()) == once


def test_other_events_have_no_row() -> None:
    other = event("Unknown", 1)
    assert key(other) is None
    assert evolve(None, other) is None
    assert key(captured()) == LEAD


def test_an_event_of_a_lead_never_captured_is_refused() -> None:
    with pytest.raises(LookupError):
        evolve(None, event("Qualified", 2))
