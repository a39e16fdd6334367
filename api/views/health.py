"""The probes' answers."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class Alive(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether the service is ready, and each check's answer ("ok" or what is wrong)."""

    status: Literal["ready", "not ready"]
    checks: dict[str, Any] = Field(
        description="database, command_writer and projections; with Kafka, broker and relay"
    )
