"""Questions answered by the segments read model."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.segment import Criteria

_SELECT = "SELECT segment_id, version, name, criteria FROM segments"


@dataclass(frozen=True)
class SegmentView:
    """A saved segment: its name and criteria, and its version."""

    id: UUID
    version: int
    name: str
    criteria: Criteria

    def shown(self) -> dict[str, Any]:
        """The segment as the API answers it (criteria not given are left out)."""
        return {
            "id": str(self.id),
            "version": self.version,
            "name": self.name,
            "criteria": self.criteria.model_dump(mode="json", exclude_defaults=True),
        }


def segment(conn: Connection[Any], segment_id: UUID) -> SegmentView | None:
    """The segment with this id, or None."""
    row = conn.execute(f"{_SELECT} WHERE segment_id = %s", (segment_id,)).fetchone()
    return _view(*row) if row else None


def segment_named(conn: Connection[Any], name: str) -> SegmentView | None:
    """The segment with this name, or None."""
    row = conn.execute(f"{_SELECT} WHERE name = %s", (name,)).fetchone()
    return _view(*row) if row else None


def every_segment(conn: Connection[Any]) -> list[SegmentView]:
    """Every saved segment, by name."""
    return [_view(*row) for row in conn.execute(f"{_SELECT} ORDER BY name").fetchall()]


def _view(segment_id: UUID, version: int, name: str, criteria: dict[str, Any]) -> SegmentView:
    return SegmentView(segment_id, version, name, Criteria.model_validate(criteria))
