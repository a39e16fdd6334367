"""The customer 360 read model as a pure function of events."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from domain.events.envelope import Envelope
from projections.customer_360 import queries
from projections.customer_360.evolve import evolve

CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"
_positions = count(1)


def event(
    type_: str, data: dict, day: int, position: int | None = None, version: int = 1
) -> Envelope:
    at = datetime(2026, 3, day, 12, tzinfo=UTC)
    return Envelope(
        type=f"Customer.{type_}", stream_id=CUSTOMER, stream_version=version,
        position=position or next(_positions), customer_id=CUSTOMER, occurred_at=at, recorded_at=at,
        actor="t", correlation_id="c", causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def registered(day: int = 1) -> Envelope:
    personal = {"name": "Ada", "email": "ada@example.com", "phone": None}
    data = {
        "external_ref": "x-1",
        "personal": personal,
        "profile": {},
        "tags": ["vip"],
        "consent": {},
        "custom_fields": {},
    }
    return event("Registered", data, day)


def purchase(total: str, day: int, currency: str = "EUR") -> Envelope:
    return event(
        "PurchaseRecorded",
        {"order_id": f"o{day}", "total": total, "currency": currency, "items": []},
        day,
    )


def fold(*events: Envelope) -> dict | None:
    row = None
    for e in events:
        row = evolve(row, e)
    return row


def test_purchases_count_total_and_first_and_last_by_business_time() -> None:
    # Given purchases arriving out of business-time order (an import)
    row = fold(registered(), purchase("10.00", 20), purchase("5.50", 3), purchase("2.50", 9))
    # Then
    assert row["purchase_count"] == 3
    assert row["purchase_total"] == Decimal("18.00")
    assert row["first_purchase_at"].day == 3
    assert row["last_purchase_at"].day == 20


def test_totals_stay_apart_per_currency() -> None:
    row = fold(registered(), purchase("10", 2), purchase("7", 3, "USD"), purchase("1", 4))
    assert row["purchase_currency"] == "EUR"
    assert row["purchase_total"] == Decimal("11")
    assert row["purchase_totals"] == {
        "EUR": {"count": 2, "total": "11"},
        "USD": {"count": 1, "total": "7"},
    }


def test_last_interaction_per_channel_is_the_latest_in_business_time() -> None:
    row = fold(
        registered(),
        event(
            "InteractionLogged", {"channel": "call", "direction": "inbound", "subject": "late"}, 9
        ),
        event(
            "InteractionLogged", {"channel": "call", "direction": "outbound", "subject": "early"}, 4
        ),
        event(
            "InteractionLogged", {"channel": "email", "direction": "inbound", "subject": "mail"}, 6
        ),
    )
    assert row["interactions"]["call"]["count"] == 2
    assert row["interactions"]["call"]["subject"] == "late"
    assert row["last_interaction_at"].day == 9


def test_profile_tags_consent_and_feedback() -> None:
    row = fold(
        registered(),
        event("ProfileChanged", {"personal": {"email": "new@example.com"}, "profile": {"source": "fair"}, "custom_fields": {"size": 3}}, 2),
        event("TagsChanged", {"added": ["b2b"], "removed": ["vip"]}, 3),
        event("ConsentChanged", {"changes": {"email_marketing": True}}, 4),
        event("FeedbackGiven", {"rating": 5}, 5),
        event("FeedbackGiven", {"rating": 2}, 6),
    )  # fmt: skip
    assert (row["email"], row["profile"], row["custom_fields"]) == (
        "new@example.com",
        {"source": "fair"},
        {"size": 3},
    )
    assert row["tags"] == ["b2b"]
    assert row["consent"] == {"email_marketing": True}
    assert (row["feedback_count"], row["rating_sum"]) == (2, 7)


def test_an_event_already_applied_changes_nothing() -> None:
    first = purchase("10", 2)
    row = fold(registered(), first)
    assert evolve(row, first) is row


def test_events_before_registration_make_no_row() -> None:
    assert fold(purchase("10", 2)) is None


@given(st.permutations([purchase("1.10", d) for d in (2, 5, 7, 11)]))
def test_purchase_order_of_arrival_does_not_change_the_totals(purchases) -> None:
    arrived = [replace(e, position=1000 + i) for i, e in enumerate(purchases)]
    row = fold(replace(registered(), position=999), *arrived)
    assert (row["purchase_total"], row["first_purchase_at"].day, row["last_purchase_at"].day) == (
        Decimal("4.40"),
        2,
        11,
    )


def of_stream(type_: str, stream: str, data: dict, day: int, version: int) -> Envelope:
    """An event of one of the customer's tickets or deals."""
    return replace(event(type_, data, day, version=version), type=type_, stream_id=stream)


def test_tickets_and_deals_are_kept_by_status_and_the_version_stays_the_customers() -> None:
    ticket = {"kind": "complaint", "subject": "Broken", "priority": "high", "channel": "email"}
    deal = {"title": "Renewal", "amount": "900", "currency": "EUR", "stage": "proposal"}
    row = fold(
        registered(),
        of_stream("Ticket.Opened", "t1", ticket, 2, 1),
        of_stream("Ticket.Opened", "t2", ticket, 3, 1),
        of_stream("Ticket.StatusChanged", "t1", {"status": "solved"}, 4, 2),
        of_stream("Deal.Opened", "d1", deal | {"probability": 50}, 5, 1),
        of_stream("Deal.StageMoved", "d1", {"stage": "negotiation", "probability": 80}, 6, 2),
        of_stream("Deal.AmountChanged", "d1", {"amount": "1200", "currency": "EUR"}, 7, 3),
        of_stream("Deal.Opened", "d2", deal | {"probability": 50}, 8, 1),
        of_stream("Deal.Lost", "d2", {"reason": "price"}, 9, 2),
    )
    assert row["version"] == 1
    assert {k: t["status"] for k, t in row["tickets"].items()} == {"t1": "solved", "t2": "open"}
    assert row["deals"]["d1"] | {"opened_at": None} == {
        "title": "Renewal", "amount": "1200", "currency": "EUR", "stage": "negotiation",
        "probability": 80, "status": "open", "opened_at": None,
    }  # fmt: skip
    assert (row["deals"]["d2"]["status"], row["deals"]["d2"]["probability"]) == ("lost", 0)
    view = queries.view(row)
    assert [t["id"] for t in view["open_tickets"]] == ["t2"]
    assert [d["id"] for d in view["open_deals"]] == ["d1"]


def test_email_engagement_counts_people_and_machines_apart_and_moves_the_version() -> None:
    campaign = {"campaign_id": "c1"}
    row = fold(
        registered(),
        event(
            "EmailSent",
            campaign | {"message_id": "m", "links": ["https://x.example"]},
            2,
            version=2,
        ),
        event("EmailOpened", campaign | {"machine": True, "why": "image proxy"}, 2, version=3),
        event("EmailOpened", campaign | {"machine": False, "why": None}, 4, version=4),
        event(
            "EmailClicked", campaign | {"link_index": 0, "url": "https://x.example"}, 5, version=5
        ),
        event("EmailOpened", campaign | {"machine": False, "why": None}, 3, version=6),
    )
    assert row["version"] == 6
    engagement = row["email_engagement"]
    assert (engagement["sent"], engagement["opens"], engagement["machine_opens"]) == (1, 2, 1)
    assert engagement["clicks"] == 1
    assert engagement["last_opened_at"].startswith("2026-03-04")


def test_a_customer_event_the_view_does_not_show_still_moves_its_version() -> None:
    row = fold(registered(), event("SomethingNew", {}, 2, version=2))
    assert row["version"] == 2
