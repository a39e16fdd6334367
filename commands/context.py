"""What travels with every command besides its payload."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.values import Meta


@dataclass(frozen=True)
class CommandContext:
    """Who sends the command, why, when it was received, and its safety conditions."""

    actor: str
    correlation_id: str
    received_at: datetime
    causation_id: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    expected_version: int | None = None

    def meta(self, occurred_at: datetime | None) -> Meta:
        """Event metadata; business time defaults to the time the command was received."""
        return Meta(
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            occurred_at=occurred_at or self.received_at,
        )


@dataclass(frozen=True)
class Outcome:
    """A command's answer: HTTP-like status and body; `replayed` for idempotent repeats."""

    status: int
    body: dict[str, Any]
    replayed: bool = False

    @property
    def version(self) -> int | None:
        """The aggregate version the command left, when it has one."""
        return self.body.get("version")


@dataclass(frozen=True)
class Target:
    """The aggregate a command acts on. A command that `creates` it is not refused when it is
    missing; its handler gets the aggregate if it exists (None if not), so that a fixed-id
    aggregate (a configuration) is created by its first command and changed by later ones."""

    aggregate_id: UUID
    creates: bool = False
