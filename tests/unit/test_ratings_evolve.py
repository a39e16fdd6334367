"""The ratings read model as a pure function of feedback and satisfaction events."""

from datetime import UTC, datetime

from domain.events.envelope import Envelope
from projections.ratings.evolve import evolve, key

CUSTOMER = "3d2b0c57-8f6e-4f0e-9d55-2c1f6c7a9e01"
TICKET = "5b9e2a44-0c1d-4d8e-a7f3-9e6b1c2d3f40"
FEEDBACK = "8a1c7e2b-4b3d-4f5a-9c6e-7d8f9a0b1c2d"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def event(event_type: str, stream_id: str, position: int, **data: object) -> Envelope:
    return Envelope(
        type=event_type, stream_id=stream_id, stream_version=2, position=position,
        customer_id=CUSTOMER, occurred_at=AT, recorded_at=AT, actor="t", correlation_id="c",
        causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def test_feedback_and_a_tickets_satisfaction_are_ratings_without_their_comments() -> None:
    # Given a customer's feedback and their rating of a solved ticket
    feedback = event("Customer.FeedbackGiven", CUSTOMER, 5, feedback_id=FEEDBACK, rating=2,
                     source="email", personal={"comment": "Slow"})  # fmt: skip
    satisfaction = event("Ticket.SatisfactionRated", TICKET, 9, rating=5, personal={})
    # When folded
    rows = [evolve(None, feedback), evolve(None, satisfaction)]
    # Then each is a row keyed by its feedback or ticket id, with its business time only
    assert [key(feedback), key(satisfaction)] == [FEEDBACK, TICKET]
    assert rows == [
        {"rating_id": FEEDBACK, "customer_id": CUSTOMER, "source": "feedback", "rating": 2,
         "rated_at": AT, "last_position": 5},
        {"rating_id": TICKET, "customer_id": CUSTOMER, "source": "ticket", "rating": 5,
         "rated_at": AT, "last_position": 9},
    ]  # fmt: skip


def test_other_events_and_repeats_change_nothing() -> None:
    # Given a rating's row
    satisfaction = event("Ticket.SatisfactionRated", TICKET, 9, rating=5, personal={})
    row = evolve(None, satisfaction)
    # Then the same event again, or any other event, leaves it as it is
    assert evolve(row, satisfaction) is row
    status = event("Ticket.StatusChanged", TICKET, 10, status="closed")
    assert key(status) is None
    assert evolve(row, status) is row
