"""The customer routes' answers: a customer in lists, the 360 view, and the timeline."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.redaction import PersonalText
from api.views.audit import TimelineProof
from api.views.churn import ChurnRisk
from domain.events.payload import PERSONAL_DATA

IsoTime = Annotated[str, Field(description="ISO 8601 time with its UTC offset")]


class PurchaseCount(BaseModel):
    """Purchases recorded, and their total in the customer's main currency."""

    count: int
    total: Decimal


class CustomerSummary(BaseModel):
    """A customer as lists show it."""

    id: str
    version: int
    external_ref: str | None
    name: PersonalText = None
    email: PersonalText = None
    tags: list[str]
    purchases: PurchaseCount


class CustomerPage(BaseModel):
    """A page of customers, and the cursor of the next one (null at the end)."""

    items: list[CustomerSummary]
    next_cursor: str | None


class CurrencyPurchases(BaseModel):
    """Purchases in one currency."""

    count: int
    total: Decimal


class Purchases(BaseModel):
    """Purchases: `total` and `average_order_value` are in `currency`, the currency of the
    first one recorded; `by_currency` counts each currency apart."""

    count: int
    total: Decimal
    currency: str | None
    average_order_value: Decimal | None
    first_at: datetime | None
    last_at: datetime | None
    by_currency: dict[str, CurrencyPurchases]


class Feedback(BaseModel):
    """Ratings given (1-5), and their average."""

    count: int
    average_rating: float | None


class EmailCounts(BaseModel):
    """Campaign emails sent, suppressed and bounced; opens (by people, and by machines apart)
    and clicks; the last open and click."""

    sent: int = 0
    suppressed: int = 0
    bounced: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    last_opened_at: IsoTime | None = None
    last_clicked_at: IsoTime | None = None


class TicketEntry(BaseModel):
    """A ticket of the customer's that is open or pending."""

    id: str
    kind: str
    subject: str
    priority: str
    status: str
    opened_at: IsoTime


class DealEntry(BaseModel):
    """A deal with the customer that is open."""

    id: str
    title: str
    amount: Decimal
    currency: str
    stage: str
    probability: int
    status: str
    opened_at: IsoTime


class Interactions(BaseModel):
    """The contacts on one channel: how many, and the last one."""

    count: int
    last_at: IsoTime
    direction: str
    subject: str | None


class LastInteraction(Interactions):
    """The customer's last contact, and its channel."""

    channel: str


class LifetimeValue(BaseModel):
    """Expected purchases in the next 12 months times the average order value, in the
    currency of the customer's first purchase; null where the model gives no number."""

    value: Decimal | None
    currency: str
    expected_purchases_12_months: float | None
    average_order_value: Decimal


class CustomerChurnRisk(ChurnRisk):
    """The customer's churn risk as of `as_of`."""

    as_of: datetime


class CustomerView(CustomerSummary):
    """The customer 360 view. `churn_risk` and `lifetime_value` are null before the first
    purchase, while no model can be fitted, and with `as_of_recorded`."""

    phone: PersonalText = None
    personal: Annotated[dict[str, Any] | None, PERSONAL_DATA] = Field(
        default=None, description="The personal details as registered; absent for analysts"
    )
    profile: dict[str, Any]
    consent: dict[str, Any]
    custom_fields: dict[str, Any]
    purchases: Purchases  # type: ignore[assignment]
    feedback: Feedback
    email_engagement: EmailCounts
    open_tickets: list[TicketEntry]
    open_deals: list[DealEntry]
    last_interaction: LastInteraction | None
    interactions_by_channel: dict[str, Interactions]
    registered_at: datetime
    updated_at: datetime
    churn_risk: CustomerChurnRisk | None
    lifetime_value: LifetimeValue | None


class TimelineItem(BaseModel):
    """One event of the customer, with who recorded it, why (correlation and causation) and
    when (`occurred_at`: business time; `recorded_at`: when it was stored)."""

    event_id: str
    type: str
    stream_id: str
    stream_version: int
    position: int
    customer_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    schema_version: int
    data: dict[str, Any]
    erased: bool = Field(
        default=False,
        description="the customer was erased: `data` holds the event's non-personal fields only",
    )
    proof: TimelineProof | None = Field(
        default=None, description="with `proofs=true`: the inclusion proof (null: not yet signed)"
    )


class TimelinePage(BaseModel):
    """A page of the customer's events, oldest first, and the next page's cursor (or null)."""

    items: list[TimelineItem]
    next_cursor: str | None
