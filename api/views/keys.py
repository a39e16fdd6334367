"""The key routes' bodies and answers: a key is listed without its secret, which only the answer
that creates it carries."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from infra.api_keys import MAX_EXPIRY_DAYS, NAME_PATTERN, ApiKey, Role


class NewKey(BaseModel):
    """A key to create: its role, its name (default `ROLE-N`) and its lifetime (default: none)."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="unique among all keys, revoked ones too; recorded as the `actor` of events",
        examples=["shop-backend"],
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_EXPIRY_DAYS,
        strict=True,  # `true` or "7" is a mistake, not a day
        description="the key stops working after this",
    )


class KeyView(BaseModel):
    """A key, never its secret."""

    id: UUID
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "KeyView":
        return cls.model_validate(key, from_attributes=True)


class Keys(BaseModel):
    """Every key, revoked and expired ones too, oldest first."""

    items: list[KeyView]


class CreatedKey(KeyView):
    """A new key, with its secret: shown this once, never stored."""

    key: str
