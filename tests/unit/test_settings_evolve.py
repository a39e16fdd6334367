"""The settings read model as a pure function of the configuration aggregates' events."""

from datetime import UTC, datetime
from functools import reduce

from domain.events.envelope import Envelope
from projections.settings.evolve import evolve, key

SALES_TEAM = "3c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
PIPELINE = "5d1c3f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f"
SCHEMA = "5c4e3a1f-0d2b-4c6e-9f8a-c0570f1e1d5a"
LEAD_SCORING = "7b0e6c2a-3f1d-4e8b-9c5a-1d2e3f4a5b6c"
REP = {"id": "jane", "name": "Jane", "active": True, "territories": ["FR"]}


def event(type_: str, stream_id: str, version: int, position: int, **data: object) -> Envelope:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return Envelope(
        type=type_, stream_id=stream_id, stream_version=version, position=position,
        customer_id=None, occurred_at=at, recorded_at=at, actor="admin", correlation_id="c",
        causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def configured(version: int, position: int, stages: list[dict]) -> Envelope:
    return event("Pipeline.StagesConfigured", PIPELINE, version, position, stages=stages)


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_configured_stages_replace_the_document_and_the_version_is_the_pipeline_s() -> None:
    # Given the pipeline created, then configured twice
    created = event("Pipeline.Created", PIPELINE, 1, 10)
    first = configured(2, 11, [{"name": "a", "probability": 5}])
    later = configured(3, 14, [{"name": "b", "probability": 60}])
    # When folded / Then the row holds the later stages only
    assert fold(created) == {
        "id": PIPELINE, "kind": "Pipeline", "version": 1, "last_position": 10, "document": {},
    }  # fmt: skip
    assert fold(created, first, later) == {
        "id": PIPELINE, "kind": "Pipeline", "version": 3, "last_position": 14,
        "document": {"open_stages": [{"name": "b", "probability": 60}]},
    }  # fmt: skip


def test_each_rules_change_numbers_the_rules() -> None:
    clicks = {"name": "C", "kind": "email_clicked", "points": 4, "max_points": None}
    rules = {"attribute_rules": [], "engagement_rules": [clicks]}
    row = fold(
        event("LeadScoring.Started", LEAD_SCORING, 1, 1),
        event("LeadScoring.RulesSet", LEAD_SCORING, 2, 2, attribute_rules=[], engagement_rules=[]),
        event("LeadScoring.RulesSet", LEAD_SCORING, 3, 3, **rules),
    )
    assert (row["kind"], row["version"]) == ("LeadScoring", 3)
    assert row["document"] == {"version": 2, **rules}


def test_leads_taken_in_move_the_team_s_version_but_not_its_reps() -> None:
    # Given the sales team with one rep
    reps = event("SalesTeam.RepsSet", SALES_TEAM, 2, 5, reps=[REP], territory_attribute="country")
    set_up = fold(event("SalesTeam.Started", SALES_TEAM, 1, 4), reps)
    # When a lead is taken in
    taken = event(
        "SalesTeam.LeadTaken", SALES_TEAM, 3, 9,
        lead_id="l1", email_digest="d1", owner_id="jane", duplicate_of=None,
    )  # fmt: skip
    row = evolve(set_up, taken)
    # Then only the version and position move: no digest, no turn in the document
    assert row == set_up | {"version": 3, "last_position": 9}
    assert row["document"] == {"reps": [REP], "territory_attribute": "country"}


def test_field_definitions_are_kept_by_key_the_latest_one_holding() -> None:
    def defined(version: int, field: str, type_: str) -> Envelope:
        definition = {"type": type_}
        return event(
            "CustomFieldSchema.FieldDefined",
            SCHEMA,
            version,
            version,
            key=field,
            definition=definition,
        )

    row = fold(
        event("CustomFieldSchema.Started", SCHEMA, 1, 1),
        defined(2, "size", "number"),
        defined(3, "tier", "text"),
        defined(4, "size", "text"),
    )
    assert row["document"] == {"size": {"type": "text"}, "tier": {"type": "text"}}
    assert row["version"] == 4


def test_an_event_applied_again_changes_nothing() -> None:
    row = fold(event("Pipeline.Created", PIPELINE, 1, 6), configured(2, 7, []))
    assert evolve(row, configured(2, 7, [{"name": "x", "probability": 1}])) == row


def test_other_aggregates_events_have_no_row() -> None:
    registered = event("Customer.Registered", SCHEMA, 1, 1)
    assert (key(registered), evolve(None, registered)) == (None, None)
    assert key(event("SalesTeam.Started", SALES_TEAM, 1, 1)) == SALES_TEAM
