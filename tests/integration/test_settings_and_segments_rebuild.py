"""The settings and segments read models over a real PostgreSQL: a rebuild equals the live
table, and the GET routes' queries answer what the aggregates hold (and a segment's name,
which its aggregate does not keep, as its events recorded it)."""

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from psycopg.rows import dict_row

from api.bootstrap import Container
from commands.context import Target
from commands.custom_fields import DefineCustomField
from commands.deals import ConfigureStages
from commands.leads import CaptureLead, SetSalesReps, SetScoringRules
from commands.segments import DefineSegment, RedefineSegment
from consumers.store_follower import StoreFollower
from domain.custom_fields import SCHEMA_ID
from domain.lead_scoring import LEAD_SCORING_ID
from domain.pipeline import PIPELINE_ID
from domain.sales_team import SALES_TEAM_ID
from infra.event_store import load_aggregate
from projections.catalog import SEGMENTS, SETTINGS
from projections.rebuild import rebuild
from projections.segments import queries as segments
from projections.settings import queries as settings
from tests.integration.conftest import context, crm_on
from tests.integration.streams import stream

RULES = SetScoringRules(
    attribute_rules=[{"name": "Big", "attribute": "size", "min": 200, "points": 20}],
    engagement_rules=[{"name": "Clicks", "kind": "email_clicked", "points": 4}],
)


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: the configuration is global."""
    with crm_on(new_database()) as built:
        yield built


@pytest.fixture(scope="module")
def segment_ids(crm) -> list[UUID]:
    """The segments saved by `configure`, once the live read models are caught up with it."""
    ids = configure(crm.bus)
    StoreFollower(crm.store, crm.pool, crm.url, [SETTINGS, SEGMENTS]).catch_up()
    return ids


def configure(bus) -> list[UUID]:
    """Configures everything, takes two leads in, and saves two segments; returns their ids."""
    tag = uuid4().hex[:8]
    for stages in ([{"name": "demo", "probability": 30}], [{"name": "trial", "probability": 60}]):
        bus.execute(Target(PIPELINE_ID, creates=True), ConfigureStages(stages=stages), context())
    bus.execute(Target(LEAD_SCORING_ID, creates=True), RULES, context())
    reps = SetSalesReps(reps=[{"id": f"rep-{tag}", "name": "Rep", "territories": ["FR"]}])
    bus.execute(Target(SALES_TEAM_ID, creates=True), reps, context())
    for n in range(2):
        lead = CaptureLead(name="Ada", email=f"ada-{tag}-{n}@example.com")
        bus.execute(Target(uuid4(), creates=True), lead, context())
    for key, kind in ((f"size_{tag}", "number"), (f"tier_{tag}", "text")):
        field = DefineCustomField(key=key, type=kind)
        bus.execute(Target(SCHEMA_ID, creates=True), field, context())
    ids = [uuid4(), uuid4()]
    for segment_id, name in zip(ids, ("Loyal", "Recent"), strict=True):
        defined = DefineSegment(name=f"{name} {tag}", criteria={"tag": tag, "min_total": "10.5"})
        bus.execute(Target(segment_id, creates=True), defined, context())
    redefined = RedefineSegment(criteria={"last_purchase_after": "2026-01-01T00:00:00Z"})
    bus.execute(Target(ids[0]), redefined, context())
    return ids


def test_the_read_models_answer_what_the_aggregates_hold(crm, segment_ids) -> None:
    # Given configuration and segment commands (see `configure`)
    with crm.pool.connection() as conn:
        # When the queries are asked / Then they answer the aggregates' state and version
        assert_same(settings.pipeline_stages(conn), load_aggregate(conn, PIPELINE_ID), "stages")
        assert_same(settings.scoring_rules(conn), load_aggregate(conn, LEAD_SCORING_ID), "rules")
        team = load_aggregate(conn, SALES_TEAM_ID)
        assert_same(settings.sales_reps(conn), team, "reps", "territory_attribute")
        assert_same(settings.custom_fields(conn), load_aggregate(conn, SCHEMA_ID), "fields")
        for segment_id in segment_ids:
            segment = load_aggregate(conn, segment_id)
            assert_same(segments.segment(conn, segment_id), segment, "criteria")
            name = stream(conn, segment_id)[0].data["name"]
            assert segments.segment(conn, segment_id).name == name
            assert segments.segment_named(conn, name).id == segment_id
        assert [s.id for s in segments.every_segment(conn)] == segment_ids


def test_rebuilding_settings_and_segments_equals_the_live_tables(crm, segment_ids) -> None:
    # Given the live read models caught up with configuration and segment commands
    projections = [SETTINGS, SEGMENTS]
    with crm.pool.connection() as conn:
        live = {p.name: rows(conn, p.name) for p in projections}
        assert [len(live[p.name]) for p in projections] == [4, 2]
        # When they are rebuilt from position 0 and swapped in
        for projection in projections:
            rebuild(conn, projection)
        # Then they are the same, row for row
        assert {p.name: rows(conn, p.name) for p in projections} == live


def assert_same(view, aggregate, *fields: str) -> None:
    assert view.version == aggregate.version
    for field in fields:
        assert getattr(view, field) == getattr(aggregate, field), field


def rows(conn, table: str) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608
