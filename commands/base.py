"""What all commands share: immutability, strict fields, storable text, and business time."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
)

from domain.aggregate import Aggregate

MAX_CLOCK_SKEW = timedelta(minutes=5)
T = TypeVar("T")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]


def storable(value: T) -> T:
    """`value` if PostgreSQL can store every text in it (dict keys and values, list items).

    PostgreSQL refuses the NUL character in text and JSON, and text that is not valid
    Unicode (a lone surrogate such as JSON's "\\ud800"): such input is refused at the edge
    (422 naming the field) rather than failing later in the writer or a read model.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character (U+0000)")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            storable(item)
    return value


StorableText = Annotated[str, AfterValidator(storable)]
"""Free text from a query string, safe to send to PostgreSQL."""


class Command(BaseModel):
    """A request to change the system. `occurred_at` is business time (for imports)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    success_status: ClassVar[int] = 200

    occurred_at: AwareDatetime | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("must not be more than 5 minutes in the future")
        return value.astimezone(UTC) if value is not None else None

    def unique_claims(self) -> list[tuple[str, str]]:
        """(kind, value) pairs no other aggregate may hold; stored with the events."""
        return []

    def required(self) -> dict[UUID, type[Aggregate]]:
        """Other aggregates that must exist for this command, by id (the customer a deal is
        for): if one does not, the command is refused as not found (404)."""
        return {}

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """Aggregates this command reads if they exist, by id (configuration such as a sales
        team or a pipeline's stages): given to its handler, never a reason to refuse."""
        return {}
