"""Pure `(row, event) -> row` functions of the `sla_policies` read model.

A row is one priority's policy (one `SlaPolicy` aggregate) with every version it had, each
with the business time it took effect (`effective_at`, the event's `occurred_at`), so that a
ticket is measured against the version in force when it was settled. Times inside jsonb are
ISO 8601 strings. No wall clock: a rebuild equals the live table.
"""

from typing import Any

from domain.events.envelope import Envelope
from domain.events.payloads import sla_policy
from domain.sla_policy import SlaPolicy
from projections.projection import Row

TERMS_SET = (sla_policy.Defined, sla_policy.Changed)


def key(event: Envelope) -> str | None:
    """Rows are per policy (per priority)."""
    return event.stream_id if event.aggregate is SlaPolicy else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event` (None before the policy is defined); events already applied (by
    position) change nothing."""
    if key(event) is None or (row is not None and event.position <= row["last_position"]):
        return row
    if row is None and event.payload_type is not sla_policy.Defined:
        return None
    if row is None:
        row = {"id": event.stream_id, "priority": event.data["priority"], "versions": []}
    versions = (
        [*row["versions"], _version(event)] if event.payload_type in TERMS_SET else row["versions"]
    )
    return row | {
        "versions": versions,
        "version": event.stream_version,
        "last_position": event.position,
    }


def _version(event: Envelope) -> dict[str, Any]:
    return {
        "version": event.stream_version,
        "effective_at": event.occurred_at.isoformat(),
        **event.data["terms"],
    }
