"""The answer of `GET /v1/customers/{id}/export`."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.views.customers import TimelineItem


class CustomerExport(BaseModel):
    """Everything the CRM holds about the customer (GDPR art. 15 and 20), personal data
    included."""

    customer_id: UUID
    profile: dict[str, Any] = Field(
        description="name, email, phone, personal details, profile, custom fields, tags,"
        " external reference and registration time, as the customer's events give them"
    )
    consent: dict[str, bool]
    events: list[TimelineItem] = Field(
        description="every event of the customer and of their tickets, deals and converted"
        " leads (campaign emails included), decrypted, oldest first"
    )
    read_models: dict[str, list[dict[str, Any]]] = Field(
        description="each read model's rows about the customer, by read model (binary"
        " columns in hex)"
    )
