"""Laws over a real PostgreSQL for the leads and campaigns read models: after random commands
(duplicate emails, qualification, conversion, engagement, scoring rules and reps changing
in between), a rebuilt table equals the live one, and each row shows what its stored events
fold into, and what its aggregate replayed holds (the answer the GET routes gave before they
read the read models, for what aggregates keep)."""

from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import reduce
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from fastapi.encoders import jsonable_encoder
from hypothesis import given
from hypothesis import strategies as st
from psycopg.rows import dict_row

from api.bootstrap import Container
from commands.campaigns import CompleteCampaign, CreateCampaign, RequestCampaignSend
from commands.context import Target
from commands.leads import (
    CaptureLead,
    ConvertLead,
    DealDraft,
    DisqualifyLead,
    QualifyLead,
    RecordLeadEngagement,
    SetSalesReps,
    SetScoringRules,
)
from consumers.store_follower import StoreFollower
from domain.campaign import Campaign, CampaignStatus
from domain.errors import CrmError
from domain.lead import Lead, LeadStatus
from domain.lead_scoring import LEAD_SCORING_ID
from domain.sales_team import SALES_TEAM_ID
from infra.event_store import load_aggregate
from projections.campaigns import queries as campaigns
from projections.campaigns.evolve import evolve as campaigns_evolve
from projections.catalog import CAMPAIGNS, LEADS
from projections.leads import queries as leads
from projections.leads.evolve import evolve as leads_evolve
from projections.projection import Projection, Row
from projections.rebuild import rebuild
from tests.integration.conftest import context, crm_on
from tests.integration.streams import stream
from tests.integration.test_rebuild_equals_live import DB_SETTINGS
from tests.unit.recorded import Evolve

RULES = [
    SetScoringRules(),
    SetScoringRules(
        attribute_rules=[
            {"name": "EU", "attribute": "country", "one_of": ["FR", "DE"], "points": 5},
            {"name": "Webinar", "attribute": "source", "equals": "webinar", "points": 10},
        ],
        engagement_rules=[
            {"name": "Opens", "kind": "email_opened", "points": 1, "max_points": 2},
            {"name": "Clicks", "kind": "email_clicked", "points": 4},
        ],
    ),
    SetScoringRules(
        attribute_rules=[{"name": "Large", "attribute": "size", "min": 100, "points": 20}],
        engagement_rules=[{"name": "Clicks", "kind": "email_clicked", "points": 2}],
    ),
]
REPS = [
    SetSalesReps(reps=[]),
    SetSalesReps(reps=[{"id": "ann", "name": "Ann", "territories": ["FR"]}, {"id": "bob", "name": "Bob"}]),
    SetSalesReps(reps=[{"id": "ann", "name": "Ann", "active": False}, {"id": "cid", "name": "Cid"}]),
]  # fmt: skip
DEAL = DealDraft(title="Pilot", amount=Decimal("1200.00"), currency="EUR", stage="proposal")

attributes = st.fixed_dictionaries(
    {},
    optional={
        "country": st.sampled_from(["FR", "fr", "DE", "US"]),
        "size": st.one_of(st.integers(0, 500), st.sampled_from(["250", 99.5, True])),
    },
)
lead_actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("capture"),
            st.sampled_from(["ada", "ADA", "bob"]),
            st.sampled_from([None, "webinar", "Webinar", "fair"]),
            attributes,
        ),
        st.tuples(st.just("qualify"), st.integers(0, 9)),
        st.tuples(st.just("disqualify"), st.integers(0, 9), st.sampled_from(["budget", "spam"])),
        st.tuples(st.just("convert"), st.integers(0, 9), st.booleans()),
        st.tuples(
            st.just("engage"), st.integers(0, 9), st.sampled_from(["email_opened", "email_clicked"])
        ),
        st.tuples(st.just("rules"), st.integers(0, len(RULES) - 1)),
        st.tuples(st.just("reps"), st.integers(0, len(REPS) - 1)),
    ),
    min_size=1,
    max_size=15,
)


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: scoring rules and reps are global."""
    with crm_on(new_database()) as built:
        yield built


def act(bus, action: tuple, lead_ids: list[UUID], domain: str) -> None:
    """Captures a lead, changes the rules or reps, or runs a command on a captured lead."""
    kind, *args = action
    if kind == "capture":
        local, source, facts = args
        command = CaptureLead(
            name="Ada", email=f"{local}@{domain}", source=source, attributes=facts
        )
        lead_ids.append(uuid4())
        bus.execute(Target(lead_ids[-1], creates=True), command, context())
    elif kind in ("rules", "reps"):
        target = LEAD_SCORING_ID if kind == "rules" else SALES_TEAM_ID
        setting = (RULES if kind == "rules" else REPS)[args[0]]
        bus.execute(Target(target, creates=True), setting, context())
    elif lead_ids:
        lead_id = lead_ids[args[0] % len(lead_ids)]
        command = {
            "qualify": QualifyLead,
            "disqualify": lambda: DisqualifyLead(reason=args[1]),
            "convert": lambda: ConvertLead(deal=DEAL if args[1] else None),
            "engage": lambda: RecordLeadEngagement(kind=args[1]),
        }[kind]()
        try:
            bus.execute(Target(lead_id), command, context())
        except CrmError:
            pass  # a refused command records nothing, live or rebuilt


def rebuilt_equals_live(crm: Container, projection: Projection) -> None:
    """Catches the live table up, rebuilds it, and checks the two are equal row for row."""
    StoreFollower(crm.store, crm.pool, crm.url, [projection]).catch_up()
    query = f"SELECT * FROM {projection.name} ORDER BY 1"
    with crm.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        live = cur.execute(query).fetchall()
        rebuild(conn, projection)
        assert cur.execute(query).fetchall() == live


def as_json(view: dict[str, Any]) -> bytes:
    """A view as the API encodes it (types and values, not key order)."""
    return orjson.dumps(jsonable_encoder(view), option=orjson.OPT_SORT_KEYS)


def replayed_lead(lead: Lead) -> dict[str, Any]:
    """What GET /v1/leads/{id} shows of what the replayed aggregate holds."""
    return {
        "id": str(lead.id), "version": lead.version, "status": lead.status,
        "name": lead.personal.name, "email": lead.personal.email, "company": lead.company,
        "source": lead.source, "attributes": lead.attributes, "owner_id": lead.owner_id,
        "score": lead.score.model_dump(mode="json"), "engagement": lead.engagement,
        "disqualified_reason": lead.disqualified_reason, "customer_id": lead.customer_id,
    }  # fmt: skip


def folded(conn, view: Callable[[Row], dict[str, Any]], evolve: Evolve, stream_id: UUID) -> Any:
    """The view of the row that the stream's stored events fold into."""
    return view(reduce(evolve, stream(conn, stream_id), None))


def shown(view: dict[str, Any], replayed: dict[str, Any]) -> dict[str, Any]:
    """What a view shows of what the replayed aggregate holds."""
    return {name: view[name] for name in replayed}


@DB_SETTINGS
@given(lead_actions)
def test_the_leads_read_model_rebuilds_equal_and_shows_the_replayed_leads(crm, actions) -> None:
    # Given leads that went through random commands, with emails of their own domain
    domain, lead_ids = f"{uuid4().hex[:12]}.example.com", []
    for action in actions:
        act(crm.bus, action, lead_ids, domain)
    # When the leads table is caught up and rebuilt, Then it is unchanged
    rebuilt_equals_live(crm, LEADS)
    # And each row shows what its events fold into, and what replaying its lead holds
    with crm.pool.connection() as conn:
        replayed = {i: load_aggregate(conn, i) for i in lead_ids}
        for lead_id, lead in replayed.items():
            view = leads.get(conn, lead_id)
            assert as_json(view) == as_json(folded(conn, leads.view, leads_evolve, lead_id))
            assert as_json(shown(view, replayed_lead(lead))) == as_json(replayed_lead(lead))
        # And the open leads with an email are the new and qualified ones with it, any case
        for local in ("ada", "Bob"):
            expected = [
                i for i, lead in replayed.items()
                if lead.personal.email.lower() == f"{local}@{domain}".lower()
                and lead.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
            ]  # fmt: skip
            assert leads.open_leads_with_email(conn, f"{local}@{domain}") == expected


def replayed_campaign(campaign: Campaign) -> dict[str, Any]:
    """What GET /v1/campaigns/{id} shows of what the replayed aggregate holds."""
    return {
        "id": str(campaign.id), "version": campaign.version,
        "subject": campaign.subject, "body_html": campaign.body_html,
        "audience": campaign.audience.model_dump(mode="json", exclude_none=True),
        "status": campaign.status,
    }  # fmt: skip


audiences = st.one_of(
    st.fixed_dictionaries({"segment": st.fixed_dictionaries({"tag": st.sampled_from(["vip", "b2b"])})}),
    st.fixed_dictionaries({"segment": st.just({"min_total": "10.50", "source": "web"})}),
    st.builds(lambda n: {"customer_ids": [uuid4() for _ in range(n)]}, st.integers(1, 3)),
)  # fmt: skip
campaign_steps = st.sampled_from([(), ("send",), ("send", "complete"), ("complete",)])


@DB_SETTINGS
@given(st.lists(st.tuples(audiences, campaign_steps), min_size=1, max_size=4))
def test_the_campaigns_read_model_rebuilds_equal_and_shows_the_replayed_campaigns(
    crm, drafts
) -> None:
    # Given campaigns drafted, maybe sent and completed (a completion before a send is refused)
    ids = []
    for audience, steps in drafts:
        ids.append(uuid4())
        create = CreateCampaign(name="Spring", subject="Hi", body_html="<p>Hi</p>", **audience)
        crm.bus.execute(Target(ids[-1], creates=True), create, context())
        for step in steps:
            command = (
                RequestCampaignSend() if step == "send" else CompleteCampaign(sent=3, suppressed=1)
            )
            try:
                crm.bus.execute(Target(ids[-1]), command, context())
            except CrmError:
                pass
    # When the campaigns table is caught up and rebuilt, Then it is unchanged
    rebuilt_equals_live(crm, CAMPAIGNS)
    # And each row shows what its events fold into, and what replaying the campaign holds
    with crm.pool.connection() as conn:
        for campaign_id in ids:
            view = campaigns.get(conn, campaign_id)
            expected = folded(conn, campaigns.view, campaigns_evolve, campaign_id)
            assert as_json(view) == as_json(expected)
            replayed = replayed_campaign(load_aggregate(conn, campaign_id))
            assert as_json(shown(view, replayed)) == as_json(replayed)
            if view["status"] == CampaignStatus.SENT:
                assert (view["sent"], view["suppressed"]) == (3, 1)
