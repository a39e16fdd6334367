"""Commands on deals and on the pipeline's stages, validated at the edge (422 names the field).

A command that names a stage consults the pipeline: the writer gives its handler the
pipeline's stages as they are when the command is decided (the defaults before the first
configuration), so that a stage is never checked against a configuration read earlier.
"""

from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_extra_types.currency_code import ISO4217

from commands.base import Command, Id, Money, Text
from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.pipeline import CLOSED, PIPELINE_ID, Pipeline

StageName = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(max_length=40, pattern=r"^[a-z][a-z0-9_-]{0,39}$"),
]
"""A stage's name: lower case, as in `proposal` (input is trimmed and lowered)."""
Amount = Money


class StagedCommand(Command):
    """A command that names a stage of the pipeline; decided against the pipeline's stages."""

    stage: StageName

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        return {PIPELINE_ID: Pipeline}


class OpenDeal(StagedCommand):
    """Opens a deal with a customer in one of the pipeline's open stages."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "0c7e4a5e-8d43-4b1e-9a53-3f0d2b6c1a10",
                    "title": "Annual tea subscription",
                    "amount": "12000.00",
                    "currency": "EUR",
                    "stage": "prospecting",
                    "expected_close_date": "2026-09-30",
                    "owner": "jane.doe",
                }
            ]
        }
    )

    customer_id: Id
    title: Text
    amount: Amount
    currency: ISO4217
    expected_close_date: date | None = None
    owner: Text | None = None

    def required(self) -> dict[UUID, type[Aggregate]]:
        return {self.customer_id: Customer}


class MoveDeal(StagedCommand):
    """Moves an open deal to another open stage (to its current stage: nothing recorded)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"stage": "proposal"}]})


class ReopenDeal(StagedCommand):
    """Reopens a won or lost deal in an open stage."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"stage": "negotiation"}]})


class WinDeal(Command):
    """Closes an open deal as won (the body may be `{}`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class LoseDeal(Command):
    """Closes an open deal as lost, with the reason."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Chose a competitor"}]})

    reason: Text


class ChangeDealAmount(Command):
    """Changes an open deal's amount (and currency, which is kept if not given)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": "15000.00", "currency": "EUR"}]}
    )

    amount: Amount
    currency: ISO4217 | None = None


class StageSetting(BaseModel):
    """An open stage of the pipeline and its win probability, in percent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StageName
    probability: int = Field(ge=0, le=100)


class ConfigureStages(Command):
    """Sets the pipeline's open stages, in order; won (100 %) and lost (0 %) are fixed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stages": [
                        {"name": "prospecting", "probability": 10},
                        {"name": "demo", "probability": 30},
                        {"name": "negotiation", "probability": 70},
                    ]
                }
            ]
        }
    )

    stages: list[StageSetting] = Field(min_length=1, max_length=50)

    @field_validator("stages")
    @classmethod
    def _distinct_open_stages(cls, stages: list[StageSetting]) -> list[StageSetting]:
        names = [s.name for s in stages]
        if set(names) & set(CLOSED):
            raise ValueError("won and lost are fixed closed stages, not open ones")
        if len(set(names)) != len(names):
            raise ValueError("stage names must be distinct")
        return stages
