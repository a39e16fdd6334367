"""Small builders for unit tests."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.customer import Customer
from domain.values import Meta, Personal, Profile

META = Meta(
    actor="tester", correlation_id="corr-1", occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
)


def customer(
    *,
    customer_id: UUID | None = None,
    email: str | None = None,
    tags: tuple[str, ...] = (),
    consent: dict[str, bool] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Customer:
    """A registered customer named Ada."""
    return Customer.register(
        customer_id or uuid4(),
        external_ref=None,
        personal=Personal(name="Ada", email=email),
        profile=Profile(),
        tags=tags,
        custom_fields=custom_fields or {},
        consent=consent or {},
        meta=META,
    )
