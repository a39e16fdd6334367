"""Payloads of the Pipeline aggregate's events (`domain.pipeline`)."""

from typing import Annotated

from domain.events.payload import NOT_PERSONAL, Payload
from domain.pipeline import Stage


class Created(Payload):
    """The pipeline exists, with the default stages."""


class StagesConfigured(Payload):
    """The pipeline's open stages were set, in order, with their win probabilities."""

    stages: Annotated[tuple[Stage, ...], NOT_PERSONAL]
