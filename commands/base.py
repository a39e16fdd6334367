"""What all commands share: immutability, strict fields, and business time."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_validator

MAX_CLOCK_SKEW = timedelta(minutes=5)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]


class Command(BaseModel):
    """A request to change the system. `occurred_at` is business time (for imports)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    success_status: ClassVar[int] = 200

    occurred_at: AwareDatetime | None = None

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("must not be more than 5 minutes in the future")
        return value.astimezone(UTC) if value is not None else None

    def unique_claims(self) -> list[tuple[str, str]]:
        """(kind, value) pairs no other aggregate may hold; stored with the events."""
        return []
