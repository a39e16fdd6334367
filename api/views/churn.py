"""The churn routes' answers: each buyer's risk with its signals, and the fitted model."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

Level = Literal["high", "medium", "low"]


class ModelView(BaseModel):
    """The BG/NBD model (rates per week) and the customers it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    as_of: date


class Driver(BaseModel):
    """A driver of a risk (`not_alive`: the model's part) and its share of it."""

    signal: str
    share: float


class Money(BaseModel):
    """Spent in the currency of the customer's first purchase."""

    total: Decimal
    currency: str


class Rfm(BaseModel):
    """Scores from 1 to 5 by percentile rank among the buyers; `score` e.g. "534"."""

    recency: int
    frequency: int
    monetary: int
    score: str


class EmailEngagement(BaseModel):
    """Campaign emails sent in the last 90 days and the 90 before, and how many of each a
    person opened; `falling`: the share opened at least halved."""

    recent_sent: int
    recent_opened: int
    earlier_sent: int
    earlier_opened: int
    falling: bool


class SignalsView(BaseModel):
    """What the customer's history says, and which signals fired."""

    recency_days: int
    frequency: int
    monetary: Money
    rfm: Rfm
    usual_gap_days: float | None
    overdue_ratio: float | None
    open_complaints: int
    sla_breaches: int
    low_ratings: int
    email_engagement: EmailEngagement
    fired: list[str]


class ChurnRisk(BaseModel):
    """A customer's churn risk (0-1), its level and drivers, and the model's scores."""

    customer_id: UUID
    risk: float
    level: Level
    drivers: list[Driver]
    p_alive: float
    expected_purchases_90_days: float | None = Field(
        description="Null where the fitted model gives no finite number"
    )
    signals: SignalsView


class ChurnPage(BaseModel):
    """Buyers as of an instant, highest risk first, a page at a time."""

    as_of: datetime
    model: ModelView
    items: list[ChurnRisk]
    next_cursor: str | None
