"""Hypothesis strategies: valid customer commands, as internal services send them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from commands.customers import (
    ChangeCustomer,
    GiveFeedback,
    ItemLine,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from domain.values import Channel, Direction, FeedbackSource

words = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
emails = st.builds(lambda a, b: f"{a}@{b}.com", words, words)
tags = st.lists(st.sampled_from(["vip", "b2b", "new", "churned"]), max_size=3)
consent = st.dictionaries(
    st.sampled_from(["email_marketing", "sms_marketing"]), st.booleans(), max_size=2
)
custom = st.dictionaries(
    st.sampled_from(["size", "tier"]), st.one_of(st.none(), st.integers(0, 99), words), max_size=2
)
business_times = st.one_of(
    st.none(),
    st.integers(0, 400).map(
        lambda d: datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d, hours=d % 7)
    ),
)
money = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)

registrations = st.builds(
    RegisterCustomer, name=words, email=st.one_of(st.none(), emails), tags=tags, consent=consent
)

changes = st.builds(
    ChangeCustomer,
    name=st.one_of(words, st.just(None)).filter(lambda v: v is not None),
    phone=st.one_of(st.none(), st.just("+33 1 23 45 67 89")),
    tags=st.one_of(st.none(), tags),
    consent=st.one_of(st.none(), consent),
    custom_fields=st.one_of(st.none(), custom),
)

customer_commands = st.one_of(
    changes,
    st.builds(
        LogInteraction,
        channel=st.sampled_from(Channel),
        direction=st.sampled_from(Direction),
        subject=st.one_of(st.none(), words),
        notes=st.one_of(st.none(), words),
        occurred_at=business_times,
    ),
    st.builds(
        RecordPurchase,
        order_id=st.sampled_from([f"order-{i}" for i in range(6)]),  # repeats are refused
        items=st.lists(
            st.builds(ItemLine, sku=words, quantity=st.integers(1, 3), unit_price=money), max_size=2
        ),
        total=money,
        currency=st.sampled_from(["EUR", "USD"]),
        occurred_at=business_times,
    ),
    st.builds(
        GiveFeedback,
        rating=st.integers(1, 5),
        comment=st.one_of(st.none(), words),
        source=st.one_of(st.none(), st.sampled_from(FeedbackSource)),
    ),
)

__all__ = ["Decimal", "customer_commands", "registrations"]
