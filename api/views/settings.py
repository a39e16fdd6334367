"""The settings routes' answers: custom fields, lead scoring rules, sales reps."""

from pydantic import BaseModel

from domain.custom_fields import FieldType
from domain.lead_scoring import AttributeRule, EngagementRule
from domain.sales_team import SalesRep


class CustomFieldView(BaseModel):
    """A custom field: its key, type, choices (for a choice field) and label."""

    key: str
    type: FieldType
    choices: list[str]
    label: str | None


class CustomFields(BaseModel):
    """Every defined custom field, by key."""

    items: list[CustomFieldView]


class ScoringRulesView(BaseModel):
    """The lead scoring rules in force; `version` is the configuration's (0: never set),
    `rules_version` the rules' own, which each lead's score names."""

    version: int
    attribute_rules: list[AttributeRule]
    engagement_rules: list[EngagementRule]
    rules_version: int


class SalesRepsView(BaseModel):
    """The reps leads are assigned to (round-robin order), and the lead attribute their
    territories match; `version` is the configuration's (0: never set)."""

    version: int
    territory_attribute: str
    reps: list[SalesRep]
