"""Law over a real PostgreSQL (rebuild equals live, for every projection): after a random mix
of the whole domain's commands, erasures of customers among them, each read model of
`PROJECTIONS`, fed in-process, equals its rebuild from the event store, row for row, and
neither parked an event. The rebuild reads an erased customer's events (and those of their
tickets, deals and converted leads) with their personal fields blank: the erasure destroyed
their data keys.

The module's database is its own: the configuration is global, and examples accumulate there,
so whole tables compare (each rebuild also folds the earlier examples' events).
"""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import Connection, sql
from psycopg.rows import dict_row

import projections.rebuild
from api.bootstrap import Container
from commands.campaigns import CompleteCampaign, CreateCampaign, RequestCampaignSend
from commands.context import Target
from commands.custom_fields import DefineCustomField
from commands.customers import EraseCustomer
from commands.segments import CriteriaFields, DefineSegment, RedefineSegment
from consumers.store_follower import StoreFollower
from domain.custom_fields import SCHEMA_ID, FieldType
from projections import dead_letters
from projections.catalog import PROJECTIONS
from projections.projection import failures
from projections.rebuild import rebuild
from tests.integration.conftest import context, crm_on, register
from tests.integration.test_campaigns_bus import ACTIONS, recipients, send, sending_campaign
from tests.integration.test_leads_and_campaigns_rebuild import (
    act,
    audiences,
    campaign_steps,
    lead_actions,
)
from tests.integration.test_purchases_laws import purchases
from tests.integration.test_read_models_kafka import attempt, live
from tests.strategies import (
    custom,
    customer_commands,
    deals_lived,
    moments,
    money,
    registrations,
    sla_policies,
    stage_configurations,
    tickets_lived,
    words,
)

KEYS = {
    "customer_360": ("customer_id",),
    "campaign_recipients": ("campaign_id", "customer_id"),
    "tickets": ("ticket_id",),
    "deals": ("deal_id",),
    "leads": ("lead_id",),
    "campaigns": ("campaign_id",),
    "settings": ("id",),
    "segments": ("segment_id",),
    "purchases": ("customer_id", "order_id"),
    "sla_policies": ("id",),
    "sla_clocks": ("ticket_id",),
    "ratings": ("rating_id",),
}
"""Every read model's table, by projection name, and the key its rows are compared in."""

lives = st.tuples(
    st.one_of(sla_policies, stage_configurations, st.none()),
    registrations,
    st.lists(st.one_of(purchases, customer_commands), max_size=6),
    st.lists(tickets_lived, min_size=1, max_size=2),
    st.lists(deals_lived, min_size=1, max_size=2),
)
"""A customer after a change of configuration (or none): its own commands and purchases, its
tickets and deals (`test_read_models_kafka.live` runs it; a deal in a stage the pipeline
lacks is refused, so each customer has one at least)."""
custom_field_definitions = st.one_of(
    st.builds(DefineCustomField, key=st.sampled_from(["size", "tier"]),
              type=st.sampled_from([FieldType.TEXT, FieldType.NUMBER, FieldType.DATE])),
    st.builds(DefineCustomField, key=st.sampled_from(["size", "tier"]), type=st.just(FieldType.CHOICE),
              choices=st.lists(words, min_size=1, max_size=3, unique=True), label=st.just("Tier")),
)  # fmt: skip
"""A definition of a custom field the customer commands set: their values may be refused."""
criteria = st.builds(
    CriteriaFields,
    tag=st.sampled_from([None, "vip", "b2b"]),
    min_purchases=st.one_of(st.none(), st.integers(0, 3)),
    max_total=st.one_of(st.none(), money),
    last_purchase_after=st.one_of(st.none(), moments),
    source=st.sampled_from([None, "web"]),
    custom_fields=custom,
)
"""A saved segment's criteria (no bound pairs: always in order)."""

KINDS = {
    "customer": lives,
    "leads": lead_actions,
    "campaign": st.tuples(audiences, campaign_steps),
    "mailing": recipients,
    "field": custom_field_definitions,
    "segment": st.tuples(
        st.sampled_from(["Loyal", "Recent"]), criteria, st.lists(criteria, max_size=2)
    ),
    "erasure": st.integers(0, 999),
}
"""The steps a mix is made of, by kind."""


@st.composite
def mixes(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """One to three steps of each kind, in a random order."""
    steps = [
        (kind, step)
        for kind, strategy in KINDS.items()
        for step in draw(st.lists(strategy, min_size=1, max_size=3))
    ]
    return draw(st.permutations(steps))


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own, for the whole module."""
    with crm_on(new_database()) as built:
        yield built


def run(crm: Container, kind: str, step: Any, tag: str) -> None:
    """Runs one step of a mix (`tag`: the example's, in its emails and segment names)."""
    if kind == "customer":
        live(crm, step)
    elif kind == "leads":
        lead_ids: list = []
        for action in step:
            act(crm.bus, action, lead_ids, f"{tag}.example.com")
    elif kind == "campaign":
        draft_campaign(crm, *step)
    elif kind == "mailing":
        mail(crm, step)
    elif kind == "field":
        attempt(crm, Target(SCHEMA_ID, creates=True), step)
    elif kind == "erasure":
        erase(crm, step)
    else:
        name, defined, redefined = step
        segment_id, define = uuid4(), DefineSegment(name=f"{name} {tag}", criteria=defined)
        if attempt(crm, Target(segment_id, creates=True), define):
            for then in redefined:
                attempt(crm, Target(segment_id), RedefineSegment(criteria=then))


def draft_campaign(crm: Container, audience: dict, steps: tuple[str, ...]) -> None:
    """Drafts a campaign, then requests its send and completes it, as `steps` say."""
    campaign_id = uuid4()
    create = CreateCampaign(name="Spring", subject="Hi", body_html="<p>Hi</p>", **audience)
    crm.bus.execute(Target(campaign_id, creates=True), create, context())
    for step in steps:
        done = RequestCampaignSend() if step == "send" else CompleteCampaign(sent=3, suppressed=1)
        attempt(crm, Target(campaign_id), done)


def mail(crm: Container, to: list[tuple[bool, list[str]]]) -> None:
    """Sends a campaign to new customers (consenting or not), who open, click and bounce."""
    customers = [
        (register(crm.bus, email="c@example.com", consent={"email_marketing": consents}), actions)
        for consents, actions in to
    ]
    campaign_id = sending_campaign(crm.bus, [customer_id for customer_id, _ in customers])
    for customer_id, actions in customers:
        send(crm.bus, campaign_id, customer_id)
        for action in actions:
            attempt(crm, Target(customer_id), ACTIONS[action](campaign_id))


def erase(crm: Container, pick: int) -> None:
    """Erases one of the customers registered so far (one erased already is refused), once
    the read models hold what their events said in clear: their erasure blanks it."""
    feed(crm)
    with crm.pool.connection() as conn:
        customers = conn.execute(
            "SELECT originator_id FROM crm_events WHERE topic LIKE %s ORDER BY notification_id",
            ("%Customer.Registered",),
        ).fetchall()
    if customers:
        (customer_id,) = customers[pick % len(customers)]
        attempt(crm, Target(customer_id), EraseCustomer(reason="GDPR art. 17"))


def feed(crm: Container) -> None:
    """Every read model caught up, fed in-process."""
    StoreFollower(crm.store, crm.pool, crm.url, list(PROJECTIONS.values())).catch_up()


def tables(conn: Connection[Any]) -> dict[str, list[dict]]:
    """Every read model's rows, in key order, by table."""
    with conn.cursor(row_factory=dict_row) as cur:
        return {
            name: cur.execute(
                sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                    sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, key))
                )
            ).fetchall()
            for name, key in KEYS.items()
        }


def assert_every_projection_rebuilds_equal(crm: Container, mix: list[tuple[str, Any]]) -> None:
    # Given a random mix of the whole domain's commands (the refused ones record nothing)
    tag = uuid4().hex[:12]
    for kind, step in mix:
        run(crm, kind, step, tag)
    # and every read model fed in-process, caught up, none stopped
    feed(crm)
    with crm.pool.connection() as conn:
        assert failures(conn) == {}
        fed = tables(conn)
        # When each is rebuilt from position 0 and swapped in (reading the erased
        # customers' events without their destroyed keys)
        for projection in PROJECTIONS.values():
            rebuild(conn, projection)
        rebuilt = tables(conn)
        # Then every projection was compared, and each table is the same, row for row
        assert set(fed) == set(PROJECTIONS)
        assert [name for name in KEYS if rebuilt[name] != fed[name]] == []
        assert rebuilt == fed
        # And no event was parked, live or rebuilt
        assert dead_letters.counts(conn) == {}


@settings(max_examples=10, deadline=None)
@given(mixes())
def test_every_projection_rebuilds_equal_to_the_live_table(crm, mix) -> None:
    assert_every_projection_rebuilds_equal(crm, mix)


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mixes())
def test_a_rebuild_that_writes_rows_out_many_times_equals_every_live_table(
    crm, monkeypatch, mix
) -> None:
    # Given rebuilds that read 7 events at a time and hold at most 3 rows in memory
    monkeypatch.setattr(projections.rebuild, "BATCH", 7)
    monkeypatch.setattr(projections.rebuild, "ROWS_IN_MEMORY", 3)
    assert_every_projection_rebuilds_equal(crm, mix)
