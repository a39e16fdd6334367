"""Payloads of the LeadScoring aggregate's events (`domain.lead_scoring`)."""

from typing import Annotated

from domain.events.payload import NOT_PERSONAL, Payload
from domain.lead_scoring import AttributeRule, EngagementRule


class Started(Payload):
    """Lead scoring exists, without rules."""


class RulesSet(Payload):
    """New scoring rules are in force (the next version)."""

    attribute_rules: Annotated[tuple[AttributeRule, ...], NOT_PERSONAL]
    engagement_rules: Annotated[tuple[EngagementRule, ...], NOT_PERSONAL]
