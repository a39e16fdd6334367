"""Pure `(row, event) -> row` functions of the ratings read model: one row per rating a
customer gave, from feedback or from a solved ticket's satisfaction, with its business time.
Comments are personal data and stay out. No wall clock: a rebuild equals the live table."""

from domain.events.envelope import Envelope
from domain.events.payloads.customer import FeedbackGiven
from domain.events.payloads.ticket import SatisfactionRated
from projections.projection import Row


def key(event: Envelope) -> str | None:
    """Rows are per rating: the feedback's id, or the ticket's (a ticket is rated once)."""
    if event.payload_type is FeedbackGiven:
        return str(event.data["feedback_id"])
    if event.payload_type is SatisfactionRated:
        return event.stream_id
    return None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row of a rating: made by its event, unchanged by any later one."""
    rating_key = key(event)
    if row is not None or rating_key is None:
        return row
    return {
        "rating_id": rating_key,
        "customer_id": event.customer_id,
        "source": "feedback" if event.payload_type is FeedbackGiven else "ticket",
        "rating": int(event.data["rating"]),
        "rated_at": event.occurred_at,
        "last_position": event.position,
    }
