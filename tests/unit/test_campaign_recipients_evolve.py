"""The campaign_recipients read model as a pure function of events."""

from datetime import UTC, datetime
from functools import reduce

from domain.events.envelope import Envelope
from projections.campaign_recipients.evolve import evolve, key

CAMPAIGN = "8d0f3c1e-6f0e-4f57-9a43-6d1b8f0c2e11"
CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"


def event(type_: str, position: int, minute: int, **data: object) -> Envelope:
    at = datetime(2026, 3, 1, 12, minute, tzinfo=UTC)
    return Envelope(
        type=f"Customer.{type_}", stream_id=CUSTOMER, stream_version=position,
        position=position, customer_id=CUSTOMER, occurred_at=at, recorded_at=at, actor="t",
        correlation_id="c", causation_id=None, schema_version=1,
        data={"campaign_id": CAMPAIGN, **data},
    )  # fmt: skip


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_a_row_per_campaign_and_customer_counts_people_and_machines_apart() -> None:
    row = fold(
        event("EmailSent", 1, 0, message_id="<m>", links=["https://a.example"]),
        event("EmailOpened", 2, 1, machine=True, why="apple-mail-privacy-protection"),
        event("EmailOpened", 3, 9, machine=False, why=None),
        event("EmailOpened", 4, 5, machine=False, why=None),
        event("EmailClicked", 5, 10, link_index=0, url="https://a.example"),
        event("EmailBounced", 6, 11, reason="550"),
    )
    assert row is not None
    at = lambda minute: datetime(2026, 3, 1, 12, minute, tzinfo=UTC)  # noqa: E731
    assert row == {
        "campaign_id": CAMPAIGN, "customer_id": CUSTOMER, "last_position": 6,
        "sent": True, "sent_at": at(0), "suppressed": False, "suppression_reason": None,
        "opened": True, "first_opened_at": at(5), "opens": 2,
        "machine_opened": True, "first_machine_opened_at": at(1), "machine_opens": 1,
        "clicked": True, "first_clicked_at": at(10), "clicks": 1,
        "bounced": True, "bounced_at": at(11),
    }  # fmt: skip


def test_a_suppression_is_kept_with_its_reason() -> None:
    row = fold(event("EmailSuppressed", 1, 0, reason="no-consent"))
    assert (row["sent"], row["suppressed"], row["suppression_reason"]) == (
        False,
        True,
        "no-consent",
    )


def test_an_event_applied_again_changes_nothing() -> None:
    opened = event("EmailOpened", 2, 1, machine=False, why=None)
    once = fold(event("EmailSent", 1, 0, message_id="<m>", links=[]), opened)
    assert evolve(once, opened) == once


def test_other_events_have_no_row() -> None:
    other = event("PurchaseRecorded", 1, 0)
    assert key(other) is None
    assert evolve(None, other) is None
    assert key(event("EmailSent", 1, 0)) == f"{CAMPAIGN}/{CUSTOMER}"
