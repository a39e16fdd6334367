"""Payloads of the SlaPolicy aggregate's events (`domain.sla_policy`)."""

from typing import Annotated

from domain.events.payload import NOT_PERSONAL, Payload
from domain.sla_policy import SlaTerms
from domain.ticket import Priority


class Defined(Payload):
    """The first SLA policy of a priority (its version 1): its targets and business hours."""

    priority: Annotated[Priority, NOT_PERSONAL]
    terms: Annotated[SlaTerms, NOT_PERSONAL]


class Changed(Payload):
    """New SLA terms are in force for a priority (the policy's next version)."""

    terms: Annotated[SlaTerms, NOT_PERSONAL]
