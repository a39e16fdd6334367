"""Pure `(row, event) -> row` functions of the settings read model.

A row is one configuration aggregate: its `kind` (the aggregate's class), its `version` (the
aggregate's, which `If-Match` checks) and a `document` holding only what its configuration
events said; defaults are the queries' business. An event of the aggregate that configures
nothing (such as the sales team taking a lead in) moves the version, not the document.
"""

from collections.abc import Callable
from typing import Any

from domain.aggregate import Aggregate
from domain.custom_fields import CustomFieldSchema
from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads import custom_fields, lead_scoring, pipeline, sales_team
from domain.lead_scoring import LeadScoring
from domain.pipeline import Pipeline
from domain.sales_team import SalesTeam
from projections.projection import Row

Document = dict[str, Any]

KINDS: dict[type[Aggregate] | None, str] = {
    aggregate: aggregate.__name__
    for aggregate in (Pipeline, LeadScoring, SalesTeam, CustomFieldSchema)
}
"""The configuration aggregates, by the `kind` of their rows (the aggregate's class name)."""


def key(event: Envelope) -> str | None:
    """Rows are per configuration aggregate."""
    return event.stream_id if event.aggregate in KINDS else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing."""
    kind = KINDS.get(event.aggregate)
    if kind is None or (row is not None and event.position <= row["last_position"]):
        return row
    document: Document = row["document"] if row is not None else {}
    change = _CHANGES.get(event.payload_type)
    return {
        "id": event.stream_id,
        "kind": kind,
        "version": event.stream_version,
        "last_position": event.position,
        "document": change(document, event.data) if change else document,
    }


def _stages_configured(_document: Document, data: dict[str, Any]) -> Document:
    return {"open_stages": data["stages"]}


def _rules_set(document: Document, data: dict[str, Any]) -> Document:
    return {
        "version": document.get("version", 0) + 1,
        "attribute_rules": data["attribute_rules"],
        "engagement_rules": data["engagement_rules"],
    }


def _reps_set(_document: Document, data: dict[str, Any]) -> Document:
    return {"reps": data["reps"], "territory_attribute": data["territory_attribute"]}


def _field_defined(document: Document, data: dict[str, Any]) -> Document:
    return document | {data["key"]: data["definition"]}


_CHANGES: dict[type[Payload], Callable[[Document, dict[str, Any]], Document]] = {
    pipeline.StagesConfigured: _stages_configured,
    lead_scoring.RulesSet: _rules_set,
    sales_team.RepsSet: _reps_set,
    custom_fields.FieldDefined: _field_defined,
}
