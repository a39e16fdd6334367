"""Law, through Kafka (issue 5: the same answers in in-process and Kafka mode): the read
models behind the pipeline, the SLA and the sales and product reports, fed by relay ->
topic -> projector, equal a build straight from the event store (the in-process feed's
folds, in position order), and the routes' own queries answer the same from both.

The build goes into a schema of its own under the live tables' names, so the queries read
it under `SET LOCAL search_path`. The module's database is its own: both sides hold every
example's events so far, so whole tables and global answers (totals, reports) compare.
"""

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import Connection, sql
from psycopg.rows import dict_row

from api.bootstrap import Container, bootstrap
from commands.base import Command
from commands.context import Target
from commands.deals import ConfigureStages, OpenDeal
from commands.tickets import OpenComplaint
from domain.errors import CrmError
from domain.pipeline import PIPELINE_ID
from domain.sla_policy import policy_id
from domain.ticket import Priority
from infra.kafka import end_offsets
from infra.page_cursor import decode
from infra.settings import Settings
from projections import dead_letters
from projections.catalog import DEALS, PURCHASES, SETTINGS, SLA_CLOCKS, SLA_POLICIES, TICKETS
from projections.deals.queries import PipelineQuery, pipeline
from projections.purchases.periods import Period, whole_buckets
from projections.purchases.products import Ranking, best_sellers, bought_together
from projections.purchases.sales import sales
from projections.purchases.scope import Scope
from projections.rebuild import build_as_of
from projections.sla.summary import sla_summary
from projections.sla.tickets import STATES, Page, sla_tickets
from tests.conftest import kafka_settings, started_broker
from tests.integration.conftest import context
from tests.integration.kafka_helpers import consumed, projector, relay_all
from tests.integration.test_kafka_rebuild_equals_live import NO_SHRINKING
from tests.integration.test_purchases_laws import purchases
from tests.strategies import (
    WINDOW,
    deals_lived,
    registrations,
    sla_policies,
    stage_configurations,
    tickets_lived,
)
from tests.waiting import wait_for

ORDER = {
    PURCHASES: "customer_id, order_id",
    DEALS: "deal_id",
    SETTINGS: "id",
    TICKETS: "ticket_id",
    SLA_POLICIES: "id",
    SLA_CLOCKS: "ticket_id",
}
"""The compared read models, and the order their rows are compared in."""
NAMES = {projection.name for projection in ORDER}
BUILT = "built_from_the_store"
"""The schema the build goes into."""
AS_OF = WINDOW + timedelta(days=10, hours=7, minutes=30)
"""Mid-window: some tickets and deals are still open, some targets running."""
LATER = WINDOW + timedelta(days=60)
"""After the window: every ticket and deal has lived its events."""
BOUGHT_BY = datetime(2025, 2, 1, tzinfo=UTC)
"""Halfway through the purchases' ten weeks (`test_purchases_laws.purchases`)."""
FIRST, LAST = date(2024, 12, 30), date(2025, 3, 31)
"""The days the sales reports cover: the purchases' ten weeks, and the tickets' window."""

lives = st.lists(
    st.tuples(
        st.one_of(sla_policies, stage_configurations, st.none()),
        registrations,
        st.lists(purchases, max_size=4),
        st.lists(tickets_lived, min_size=1, max_size=2),
        st.lists(deals_lived, min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=3,
)
"""Customers, each after a change of configuration (or none): their purchases, tickets and
deals (the simplest example has a policy, a ticket and a deal)."""


@pytest.fixture(scope="module")
def kafka_crm(new_database: Callable[[], str]) -> Iterator[tuple[Container, Settings]]:
    """A CRM on the Kafka path, with the compared read models' projectors running for the
    whole module, on a database of its own."""
    with started_broker() as kafka_bootstrap:
        chosen = kafka_settings(new_database(), kafka_bootstrap)
        built = bootstrap(chosen)
        built.start()
        with projector(built, chosen, *sorted(NAMES)):
            yield built, chosen
        built.close()


@settings(max_examples=5, deadline=None, phases=NO_SHRINKING)
@given(lives)
def test_the_pipeline_sla_and_reports_answer_through_kafka_as_from_the_event_store(
    kafka_crm, lived
) -> None:
    crm, chosen = kafka_crm
    # Given random configurations, purchases, tickets and deals (a recording time between
    # the first customer's and the others'), relayed to Kafka
    live(crm, lived[0])
    halfway = datetime.now(UTC)
    for life in lived[1:]:
        live(crm, life)
    relay_all(crm, chosen)
    ends = end_offsets(chosen)
    # When the read models are built straight from the event store
    with crm.pool.connection() as conn:
        build_in_schema(conn, BUILT)
    # and the projectors have consumed every message
    wait_for(lambda: consumed(crm, chosen, NAMES, ends), seconds=30)
    with crm.pool.connection() as conn:
        # Then the Kafka-fed tables hold the same rows as the built ones
        assert tables(conn, "public") == tables(conn, BUILT)
        # And the routes' queries answer the same from both (listed: those that differ)
        fed, built = answers(conn, "public", halfway), answers(conn, BUILT, halfway)
        assert [
            (asked, fed[asked], built[asked]) for asked in fed if fed[asked] != built[asked]
        ] == []
        # And neither parked an event
        assert not NAMES & set(dead_letters.counts(conn))


def attempt(crm: Container, target: Target, command: Command) -> bool:
    """Runs a command; False if it was refused (it recorded nothing)."""
    try:
        crm.bus.execute(target, command, context())
    except CrmError:
        return False
    return True


def live(crm: Container, life: tuple) -> None:
    """Changes the configuration, registers a customer and runs its purchases, tickets and
    deals, each ticket and deal opened then commanded."""
    setting, registration, bought, tickets, deals = life
    if isinstance(setting, ConfigureStages):
        attempt(crm, Target(PIPELINE_ID, creates=True), setting)
    elif setting is not None:
        attempt(crm, Target(policy_id(setting.priority), creates=True), setting)
    customer_id = uuid4()
    crm.bus.execute(Target(customer_id, creates=True), registration, context())
    for purchase in bought:
        attempt(crm, Target(customer_id), purchase)
    openings = [
        (OpenComplaint(customer_id=customer_id, **fields), then) for fields, then in tickets
    ]
    openings += [(OpenDeal(customer_id=customer_id, **fields), then) for fields, then in deals]
    for opening, commands in openings:
        aggregate_id = uuid4()
        if attempt(crm, Target(aggregate_id, creates=True), opening):
            for command in commands:
                attempt(crm, Target(aggregate_id), command)


def build_in_schema(conn: Connection[Any], schema: str) -> None:
    """Builds the compared read models from every stored event into `schema`, each table
    named as its live one (`build_as_of` builds beside the live table; it is moved)."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    everything = datetime.now(UTC) + timedelta(days=1)
    for projection in ORDER:
        table = build_as_of(conn, projection, everything)
        conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(table), sql.Identifier(schema)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(schema, table), sql.Identifier(projection.name)
            )
        )
    conn.commit()


def tables(conn: Connection[Any], schema: str) -> dict[str, list[dict]]:
    """Every row of the compared read models in `schema`, in key order, by table."""
    with conn.cursor(row_factory=dict_row) as cur:
        return {
            p.name: cur.execute(
                sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                    sql.Identifier(schema, p.name), sql.SQL(order)
                )
            ).fetchall()
            for p, order in ORDER.items()
        }


def answers(conn: Connection[Any], schema: str, recorded: datetime) -> dict[str, Any]:
    """What the routes' queries answer from the tables of `schema`, to a set of questions
    (`recorded`: a recording time, for the as-recorded ones)."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        return pipelines(conn, recorded) | slas(conn) | reports(conn, recorded)


def pipelines(conn: Connection[Any], recorded: datetime) -> dict[str, Any]:
    """`GET /v1/pipeline`: now, as of a business time and a recording time, and filtered."""
    questions = {
        "now": PipelineQuery(),
        "as of": PipelineQuery(as_of=AS_OF),
        "as recorded": PipelineQuery(as_of_recorded=recorded),
        "ann's first week": PipelineQuery(
            owner="ann", opened_from=WINDOW, opened_to=WINDOW + timedelta(days=7)
        ),
    }
    return {f"pipeline {name}": pipeline(conn, query) for name, query in questions.items()}


def slas(conn: Connection[Any]) -> dict[str, Any]:
    """`GET /v1/sla/tickets` by state, by priority and page by page, and `GET /v1/sla/summary`
    by period, mid-window and after it."""
    found: dict[str, Any] = {}
    for as_of in (AS_OF, LATER):
        for state in (None, *STATES):
            found[f"sla {state} at {as_of}"] = sla_tickets(conn, as_of, state=state, limit=500)
        for priority in Priority:
            found[f"sla {priority} at {as_of}"] = sla_tickets(conn, as_of, priority=priority)
        found[f"sla pages at {as_of}"] = pages(conn, as_of)
        for period in ("day", "week", "month"):
            since = WINDOW - timedelta(days=7)
            found[f"sla summary {period} at {as_of}"] = sla_summary(conn, as_of, period, since)
    return found


def pages(conn: Connection[Any], as_of: datetime) -> list[Page]:
    """Every page of the SLA of tickets, two tickets a page, each after the last's cursor."""
    found = [sla_tickets(conn, as_of, limit=2)]
    while cursor := found[-1].next_cursor:
        found.append(sla_tickets(conn, as_of, after=UUID(decode(cursor)), limit=2))
    return found


def reports(conn: Connection[Any], recorded: datetime) -> dict[str, Any]:
    """`GET /v1/reports/sales` by period, `/products` by ranking and `/products/bought-together`
    for a few SKUs: of every purchase, as of a business time and as recorded by a time."""
    skus = conn.execute(
        "SELECT DISTINCT line ->> 'sku' FROM purchases, jsonb_array_elements(items) AS line"
        " ORDER BY 1 LIMIT 3"
    ).fetchall()
    found: dict[str, Any] = {}
    scopes = {
        "all": Scope(),
        "as of": Scope(as_of=BOUGHT_BY),
        "as recorded": Scope(as_of_recorded=recorded),
    }
    for name, scope in scopes.items():
        for period in Period:
            first, last = whole_buckets(FIRST, LAST, period, LAST)
            bounded = replace(scope, first=first, last=last)
            found[f"sales {period} {name}"] = sales(conn, period, bounded)
        for ranking in Ranking:
            found[f"best {ranking} {name}"] = best_sellers(conn, scope, ranking, 20)
        for (sku,) in skus:
            found[f"with {sku} {name}"] = bought_together(conn, scope, sku, 20)
    return found
