"""Which purchases a report counts: a range of UTC days of business time, and what was
known as of a business time (`as_of`: occurred_at) or a recording time (`as_of_recorded`:
recorded_at)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

KNOWN = (
    "occurred_at <= coalesce(%(as_of)s::timestamptz, 'infinity')"
    " AND recorded_at <= coalesce(%(as_of_recorded)s::timestamptz, 'infinity')"
)
"""The purchases known: those that had occurred by `as_of` and been recorded by
`as_of_recorded` (either None: no limit)."""
IN_RANGE = (
    "occurred_at >= coalesce(%(start)s::timestamptz, '-infinity')"
    " AND occurred_at < coalesce(%(end)s::timestamptz, 'infinity')"
)
"""The purchases that occurred in the range of days."""


@dataclass(frozen=True)
class Scope:
    """Purchases that occurred from day `first` to day `last` (UTC, both included; None: no
    bound), as known at `as_of` and `as_of_recorded` (None: now)."""

    first: date | None = None
    last: date | None = None
    as_of: datetime | None = None
    as_of_recorded: datetime | None = None

    def params(self) -> dict[str, Any]:
        """The query parameters of KNOWN and IN_RANGE."""
        return {
            "start": _midnight(self.first),
            "end": _midnight(self.last + timedelta(days=1)) if self.last else None,
            "as_of": self.as_of,
            "as_of_recorded": self.as_of_recorded,
        }


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None
