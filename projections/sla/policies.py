"""Questions answered by the `sla_policies` read model: each priority's policy, every
version of it, and the version in force at a business time."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.sla_policy import SlaTerms
from domain.ticket import Priority


@dataclass(frozen=True)
class PolicyVersion:
    """One version of a policy and the business time it took effect."""

    version: int
    effective_at: datetime
    terms: SlaTerms


@dataclass(frozen=True)
class Policy:
    """A priority's policy: its id, current version and every version, oldest first."""

    id: UUID
    priority: Priority
    version: int
    versions: tuple[PolicyVersion, ...]

    def in_force(self, at: datetime) -> PolicyVersion | None:
        """The version in force at `at`: the latest version that took effect by then (a
        later version backdated before an earlier one overrides it), or None."""
        started = [v for v in self.versions if v.effective_at <= at]
        return max(started, key=lambda v: v.version, default=None)


def policies(conn: Connection[Any]) -> dict[Priority, Policy]:
    """Every priority's policy (priorities without one are absent)."""
    rows = conn.execute("SELECT id, priority, version, versions FROM sla_policies").fetchall()
    return {
        Priority(priority): Policy(id_, Priority(priority), version, _versions(versions))
        for id_, priority, version, versions in rows
    }


def _versions(documents: list[dict[str, Any]]) -> tuple[PolicyVersion, ...]:
    return tuple(
        PolicyVersion(
            version=document["version"],
            effective_at=datetime.fromisoformat(document["effective_at"]),
            terms=SlaTerms.model_validate(document),
        )
        for document in documents
    )
