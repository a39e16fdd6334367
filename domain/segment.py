"""Saved segments: named sets of customers, defined by criteria over the customer 360 view."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import CrmError
from domain.values import CustomValue, Meta, Value


class Criteria(Value):
    """Which customers belong: every criterion given must hold (none given: everyone)."""

    tag: str | None = None
    min_purchases: int | None = None
    max_purchases: int | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    last_purchase_before: datetime | None = None
    last_purchase_after: datetime | None = None
    source: str | None = None
    custom_fields: dict[str, CustomValue] = {}


class SegmentNameTaken(CrmError):
    """Another segment already has this name."""

    rule = "segment-name-taken"


class Segment(Aggregate):
    """A named, saved query over customers; its criteria can be changed later. It holds its
    criteria (a redefinition to the same records nothing); its name is claimed unique by
    the writer and shown by the segments read model."""

    id: UUID

    @event("Defined")
    def __init__(self, name: str, criteria: Criteria, meta: Meta) -> None:
        self.criteria = criteria

    def redefine(self, criteria: Criteria, meta: Meta) -> None:
        """Changes the criteria; records nothing when they are the same."""
        if criteria != self.criteria:
            self._redefine(criteria, meta)

    @event("Redefined")
    def _redefine(self, criteria: Criteria, meta: Meta) -> None:
        self.criteria = criteria
