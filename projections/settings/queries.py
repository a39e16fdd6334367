"""Questions answered by the settings read model: each configuration, with the defaults in
force until it is first set, and the version of the aggregate that holds it (0: none yet)."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.custom_fields import SCHEMA_ID, FieldDefinition
from domain.lead_scoring import LEAD_SCORING_ID, ScoringRules
from domain.pipeline import DEFAULT_STAGES, PIPELINE_ID, Stages
from domain.sales_team import DEFAULT_TERRITORY_ATTRIBUTE, SALES_TEAM_ID, SalesRep
from projections.settings.evolve import Document


@dataclass(frozen=True)
class PipelineStages:
    """The open stages deals move through."""

    version: int
    stages: Stages


@dataclass(frozen=True)
class LeadScoringRules:
    """The rules leads are scored by."""

    version: int
    rules: ScoringRules


@dataclass(frozen=True)
class SalesReps:
    """The reps leads are assigned to, and the lead attribute their territories match."""

    version: int
    reps: tuple[SalesRep, ...]
    territory_attribute: str


@dataclass(frozen=True)
class CustomFields:
    """The custom field definitions, by key."""

    version: int
    fields: dict[str, FieldDefinition]


def pipeline_stages(conn: Connection[Any]) -> PipelineStages:
    """The pipeline's open stages (the default ones until configured)."""
    version, document = _settings(conn, PIPELINE_ID)
    stages = Stages.model_validate(document) if document else DEFAULT_STAGES
    return PipelineStages(version, stages)


def scoring_rules(conn: Connection[Any]) -> LeadScoringRules:
    """The lead scoring rules in force (none until set)."""
    version, document = _settings(conn, LEAD_SCORING_ID)
    return LeadScoringRules(version, ScoringRules.model_validate(document))


def sales_reps(conn: Connection[Any]) -> SalesReps:
    """The sales reps and the lead attribute their territories match (none, and the
    default attribute, until set)."""
    version, document = _settings(conn, SALES_TEAM_ID)
    return SalesReps(
        version,
        tuple(SalesRep.model_validate(rep) for rep in document.get("reps", ())),
        document.get("territory_attribute", DEFAULT_TERRITORY_ATTRIBUTE),
    )


def custom_fields(conn: Connection[Any]) -> CustomFields:
    """The custom field definitions, by key."""
    version, document = _settings(conn, SCHEMA_ID)
    fields = {k: FieldDefinition.model_validate(d) for k, d in document.items()}
    return CustomFields(version, fields)


def _settings(conn: Connection[Any], aggregate_id: UUID) -> tuple[int, Document]:
    row = conn.execute(
        "SELECT version, document FROM settings WHERE id = %s", (aggregate_id,)
    ).fetchone()
    return (row[0], row[1]) if row else (0, {})
