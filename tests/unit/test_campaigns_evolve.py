"""The campaigns read model as a pure function of events: Given events, When folded, Then a row."""

from datetime import UTC, datetime
from functools import reduce

import pytest

from domain.events.envelope import Envelope
from projections.campaigns.evolve import evolve, key
from projections.campaigns.queries import view

CAMPAIGN = "8d0f3c1e-6f0e-4f57-9a43-6d1b8f0c2e11"
AUDIENCE = {
    "segment": {"tag": "spring", "min_total": "10.50", "source": None, "custom_fields": {}},
    "segment_id": None,
    "customer_ids": None,
}


def event(type_: str, version: int, **data: object) -> Envelope:
    at = datetime(2026, 3, 1, 12, version, tzinfo=UTC)
    return Envelope(
        type=f"Campaign.{type_}", stream_id=CAMPAIGN, stream_version=version,
        position=10 + version, customer_id=None, occurred_at=at, recorded_at=at, actor="t",
        correlation_id="c", causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


DRAFTED = event("Drafted", 1, name="Spring", subject="Hi", body_html="<p>Hi</p>", audience=AUDIENCE)


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_a_drafted_campaign_is_a_draft_without_counts() -> None:
    assert fold(DRAFTED) == {
        "campaign_id": CAMPAIGN, "version": 1, "last_position": 11, "name": "Spring",
        "subject": "Hi", "body_html": "<p>Hi</p>", "audience": AUDIENCE, "status": "draft",
        "sent": None, "suppressed": None,
    }  # fmt: skip


def test_a_requested_send_is_sending_and_a_completed_one_sent_with_its_counts() -> None:
    sending = fold(DRAFTED, event("SendRequested", 2))
    assert (sending["status"], sending["version"], sending["sent"]) == ("sending", 2, None)
    sent = evolve(sending, event("Completed", 3, sent=2, suppressed=1))
    assert (sent["status"], sent["sent"], sent["suppressed"], sent["last_position"]) == (
        "sent",
        2,
        1,
        13,
    )


def test_the_view_shows_the_audience_without_unset_criteria_and_counts_once_sent() -> None:
    draft = view(fold(DRAFTED))
    assert draft == {
        "id": CAMPAIGN, "version": 1, "name": "Spring", "subject": "Hi",
        "body_html": "<p>Hi</p>", "status": "draft",
        "audience": {"segment": {"tag": "spring", "min_total": "10.50", "custom_fields": {}}},
    }  # fmt: skip
    sent = view(
        fold(DRAFTED, event("SendRequested", 2), event("Completed", 3, sent=0, suppressed=4))
    )
    assert (sent["sent"], sent["suppressed"]) == (0, 4)


def test_an_event_applied_again_changes_nothing() -> None:
    requested = event("SendRequested", 2)
    once = fold(DRAFTED, requested)
    assert evolve(once, requested) == once


def test_other_events_have_no_row_and_orphans_are_refused() -> None:
    assert key(event("Other", 1)) is None
    assert evolve(None, event("Other", 1)) is None
    assert key(DRAFTED) == CAMPAIGN
    with pytest.raises(LookupError):
        evolve(None, event("SendRequested", 2))


def test_recipients_added_in_parts_extend_the_listed_audience() -> None:
    listed = AUDIENCE | {"segment": None, "customer_ids": ["a"]}
    drafted = event("Drafted", 1, name="S", subject="Hi", body_html="<p>Hi</p>", audience=listed)
    row = fold(drafted, event("RecipientsAdded", 2, customer_ids=["b", "c"]))
    assert row["audience"]["customer_ids"] == ["a", "b", "c"]
    assert row["version"] == 2
