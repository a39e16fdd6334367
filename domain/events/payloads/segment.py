"""Payloads of the Segment aggregate's events (`domain.segment`)."""

from typing import Annotated

from domain.events.payload import NOT_PERSONAL, Payload
from domain.segment import Criteria


class Defined(Payload):
    """A saved segment is defined: its name and criteria."""

    name: Annotated[str, NOT_PERSONAL]
    criteria: Annotated[Criteria, NOT_PERSONAL]


class Redefined(Payload):
    """A saved segment's criteria changed."""

    criteria: Annotated[Criteria, NOT_PERSONAL]
