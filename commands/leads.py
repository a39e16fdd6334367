"""Commands on leads and on how leads are scored and assigned, validated at the edge.

What a command is decided with besides its lead (the scoring rules, the sales team, the
pipeline's stages) is `consulted()`: the writer reads it, never the body. The customer a
conversion links when none is given (the one with the lead's email) is looked up by the
writer, as it decides the conversion.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_extra_types.currency_code import ISO4217

from commands.base import (
    MAX_SAFE_INTEGER,
    ONE_LINE_PATTERN,
    Command,
    Id,
    Line,
    Text,
    custom_value,
    single_line,
    text_at_most,
)
from commands.customers import CustomFields, Email, Key, Name
from commands.deals import Amount, StageName
from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.lead_scoring import LEAD_SCORING_ID, EngagementKind, LeadScoring
from domain.pipeline import PIPELINE_ID, Pipeline
from domain.sales_team import DEFAULT_TERRITORY_ATTRIBUTE, SALES_TEAM_ID, SalesTeam

Points = Annotated[int, Field(ge=-1000, le=1000)]
MAX_BOUND = 10**15
Bound = Annotated[
    Decimal,
    text_at_most(40),
    Field(allow_inf_nan=False, max_digits=20, ge=-MAX_BOUND, le=MAX_BOUND),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": -MAX_BOUND, "maximum": MAX_BOUND},
                {"type": "string", "maxLength": 40},
            ]
        }
    ),
]
"""A rule's bound on a number attribute, within +-10^15."""
MAX_RULE_TEXT = 500


def _rule_value(value: object) -> object:
    """One line of text, a number (within the bounds of an attribute's) or a boolean."""
    if isinstance(value, str):
        if len(value) > MAX_RULE_TEXT:
            raise ValueError(f"must be at most {MAX_RULE_TEXT} characters")
        return single_line(value)
    if value is None:
        raise ValueError("must be text, a number, true or false")
    return custom_value(value)


RuleValue = Annotated[
    object,
    PlainValidator(_rule_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_RULE_TEXT, "pattern": ONE_LINE_PATTERN},
                {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
                {"type": "boolean"},
            ]
        }
    ),
]
"""What a rule compares an attribute with."""
MAX_TERRITORIES = 200
Territory = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Line
]
"""A value of the territory attribute (a country code, a region)."""


class CaptureLead(Command):
    """Captures a lead: scored by the rules in force, assigned to a rep, and reported as a
    duplicate (`duplicate_of`) if an earlier lead has the same email."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Grace Hopper",
                    "email": "grace@example.com",
                    "company": "Navy Labs",
                    "source": "webinar",
                    "attributes": {"company_size": 1200, "country": "US"},
                }
            ]
        }
    )

    name: Name
    email: Email
    company: Text | None = None
    source: Text | None = None
    attributes: CustomFields = {}

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """The sales team (owner, earlier lead by email) and the scoring rules in force."""
        return {SALES_TEAM_ID: SalesTeam, LEAD_SCORING_ID: LeadScoring}


class QualifyLead(Command):
    """Marks a lead qualified (the body may be `{}`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class DisqualifyLead(Command):
    """Marks a lead disqualified, with the reason."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "No budget this year"}]})

    reason: Text


class DealDraft(BaseModel):
    """The deal a conversion opens; its owner defaults to the lead's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Text
    amount: Amount
    currency: ISO4217
    stage: StageName
    expected_close_date: date | None = None
    owner: Text | None = None


class ConvertLead(Command):
    """Converts a qualified lead into a customer: `customer_id` if given, else the customer
    with the lead's email, else a new one; `deal` opens a deal with that customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "deal": {
                        "title": "Pilot, 50 seats",
                        "amount": "12000.00",
                        "currency": "EUR",
                        "stage": "proposal",
                    }
                }
            ]
        }
    )

    customer_id: Id | None = None
    deal: DealDraft | None = None

    def required(self) -> dict[UUID, type[Aggregate]]:
        return {self.customer_id: Customer} if self.customer_id else {}

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """The pipeline, whose stages the deal is opened in."""
        return {PIPELINE_ID: Pipeline} if self.deal else {}


class RecordLeadEngagement(Command):
    """Records that the lead opened or clicked an email we sent; the lead is scored again."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "email_clicked"}]})

    kind: EngagementKind

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """The scoring rules in force."""
        return {LEAD_SCORING_ID: LeadScoring}


class AttributeRuleSetting(BaseModel):
    """Points when an attribute (or `source`, `company`) equals a value, is one of
    `one_of`, or is a number within [`min`, `max`]: exactly one of the three forms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    attribute: Key
    points: Points
    equals: RuleValue | None = None
    one_of: list[RuleValue] = Field(default=[], max_length=200)
    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> "AttributeRuleSetting":
        forms = [self.equals is not None, bool(self.one_of), (self.min, self.max) != (None, None)]
        if sum(forms) != 1:
            raise ValueError("give exactly one of: equals, one_of, or min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be greater than max")
        return self


class EngagementRuleSetting(BaseModel):
    """Points for each email open or click of a lead, up to `max_points` in all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    kind: EngagementKind
    points: Points
    max_points: Points | None = None


def _distinct(names: list[str], what: str) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"{what} must be distinct")


class SetScoringRules(Command):
    """Puts scoring rules in force for leads captured or engaged from now on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attribute_rules": [
                        {
                            "name": "Large company",
                            "attribute": "company_size",
                            "min": 200,
                            "points": 20,
                        },
                        {
                            "name": "Webinar",
                            "attribute": "source",
                            "equals": "webinar",
                            "points": 10,
                        },
                        {"name": "EU", "attribute": "country", "one_of": ["FR", "DE"], "points": 5},
                    ],
                    "engagement_rules": [
                        {"name": "Opens", "kind": "email_opened", "points": 1, "max_points": 10},
                        {"name": "Clicks", "kind": "email_clicked", "points": 5},
                    ],
                }
            ]
        }
    )

    attribute_rules: list[AttributeRuleSetting] = Field(default=[], max_length=200)
    engagement_rules: list[EngagementRuleSetting] = Field(default=[], max_length=20)

    @model_validator(mode="after")
    def _distinct_names(self) -> "SetScoringRules":
        _distinct([r.name for r in [*self.attribute_rules, *self.engagement_rules]], "rule names")
        return self


class SalesRepSetting(BaseModel):
    """A rep: `id` is what leads name as their owner; `territories` are values of the
    territory attribute (such as country codes) whose leads go to this rep first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
    name: Text
    active: bool = True
    territories: list[Territory] = Field(default=[], max_length=MAX_TERRITORIES)


class SetSalesReps(Command):
    """Sets the reps leads are assigned to, and the lead attribute territories match."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "territory_attribute": "country",
                    "reps": [
                        {"id": "jane", "name": "Jane Doe", "territories": ["FR", "BE"]},
                        {"id": "omar", "name": "Omar Ali"},
                        {"id": "li", "name": "Li Wei", "active": False},
                    ],
                }
            ]
        }
    )

    reps: list[SalesRepSetting] = Field(max_length=1000)
    territory_attribute: Key = DEFAULT_TERRITORY_ATTRIBUTE

    @field_validator("reps")
    @classmethod
    def _distinct_ids(cls, reps: list[SalesRepSetting]) -> list[SalesRepSetting]:
        _distinct([r.id for r in reps], "rep ids")
        return reps
