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
from commands.deals import (
    ChangeDealAmount,
    ConfigureStages,
    LoseDeal,
    MoveDeal,
    ReopenDeal,
    StageSetting,
    WinDeal,
)
from commands.sla import BusinessHoursSetting, RecordSlaBreach, SetSlaPolicy
from commands.tickets import ChangeTicketStatus, RateSatisfaction, ReplyToTicket
from domain.business_time import Weekday
from domain.ticket import Author, Priority, SlaTarget, TicketStatus
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


# Scenarios of the read models behind the pipeline, the SLA and the reports (issue 5)

WINDOW = datetime(2025, 3, 3, tzinfo=UTC)
"""A Monday: the first day of the three weeks in which the tickets and deals below live."""
moments = st.integers(0, 21 * 24 * 60).map(lambda m: WINDOW + timedelta(minutes=m))
"""A minute of those three weeks, in no particular order: targets are met and breached."""
STAGE_POOL = ("prospecting", "qualification", "demo", "proposal", "negotiation")
"""Stage names configurations and deal commands draw from (some are refused: unknown)."""

stage_configurations = st.builds(
    ConfigureStages,
    stages=st.lists(
        st.builds(StageSetting, name=st.sampled_from(STAGE_POOL), probability=st.integers(0, 100)),
        min_size=1,
        max_size=4,
        unique_by=lambda stage: stage.name,
    ),
    occurred_at=moments,
)
office_hours = st.builds(
    BusinessHoursSetting,
    timezone=st.sampled_from(["Europe/Paris", "America/New_York", "UTC"]),
    days=st.lists(st.sampled_from(Weekday), min_size=1, max_size=7, unique=True),
    start=st.sampled_from(["08:00", "09:30"]),
    end=st.sampled_from(["17:00", "18:45"]),
    holidays=st.lists(st.sampled_from(["2025-03-05", "2025-03-14"]), max_size=2, unique=True),
)
sla_policies = st.builds(
    SetSlaPolicy,
    priority=st.sampled_from(Priority),
    first_response_minutes=st.integers(1, 8 * 60),
    resolution_minutes=st.integers(1, 5 * 24 * 60),
    business_hours=st.one_of(st.none(), office_hours),
    occurred_at=moments,
)
"""A priority's policy, defined or changed (SetSlaPolicy does both)."""

ticket_commands = st.one_of(
    st.builds(ReplyToTicket, author=st.sampled_from(Author), body=st.just("Noted"),
              occurred_at=moments),
    st.builds(ChangeTicketStatus, status=st.sampled_from(TicketStatus), occurred_at=moments),
    st.builds(RateSatisfaction, rating=st.integers(1, 5), occurred_at=moments),
    st.builds(RecordSlaBreach, target=st.sampled_from(SlaTarget),
              policy_version=st.integers(1, 2), occurred_at=moments),
)  # fmt: skip
tickets_lived = st.tuples(
    st.fixed_dictionaries(
        {
            "subject": st.just("Late"),
            "description": st.just("Where is it?"),
            "priority": st.sampled_from(Priority),
            "channel": st.sampled_from(Channel),
            "occurred_at": moments,
        }
    ),
    st.lists(ticket_commands, max_size=6),
)
"""A ticket: its OpenComplaint's fields but the customer's id, then commands on it."""

deal_commands = st.one_of(
    st.builds(MoveDeal, stage=st.sampled_from(STAGE_POOL), occurred_at=moments),
    st.builds(ChangeDealAmount, amount=money, currency=st.sampled_from([None, "EUR", "USD"]),
              occurred_at=moments),
    st.builds(WinDeal, occurred_at=moments),
    st.builds(LoseDeal, reason=st.sampled_from(["price", "timing"]), occurred_at=moments),
    st.builds(ReopenDeal, stage=st.sampled_from(STAGE_POOL), occurred_at=moments),
)  # fmt: skip
deals_lived = st.tuples(
    st.fixed_dictionaries(
        {
            "title": st.just("Renewal"),
            "amount": money,
            "currency": st.sampled_from(["EUR", "USD"]),
            "stage": st.sampled_from(STAGE_POOL),
            "expected_close_date": st.one_of(st.none(), moments.map(lambda m: m.date())),
            "owner": st.sampled_from([None, "ann", "bob"]),
            "occurred_at": moments,
        }
    ),
    st.lists(deal_commands, max_size=6),
)
"""A deal: its OpenDeal's fields but the customer's id, then commands on it."""
