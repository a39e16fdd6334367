"""The segment routes' answers."""

from pydantic import BaseModel, Field

from domain.segment import Criteria


class SavedSegment(BaseModel):
    """A saved segment: its name, and the criteria given (those not given are absent)."""

    id: str
    version: int
    name: str
    criteria: Criteria


class SegmentWithCount(SavedSegment):
    """A saved segment, and how many customers are in it now."""

    customers: int = Field(description="Customers matching the criteria now")


class Segments(BaseModel):
    """Every saved segment, by name."""

    items: list[SavedSegment]
