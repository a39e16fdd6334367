"""Laws over a real PostgreSQL, with tickets and deals in the customers' histories: rebuilt
customer_360, tickets, deals and ratings tables equal the live ones, `?as_of` far ahead equals the
live view, and each ticket's and deal's read model shows what folding its stored events gives,
and agrees with its aggregate replayed on what both hold."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from types import ModuleType
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel

from api.routers.deals import DealView
from api.routers.tickets import TicketView
from commands.base import Command
from commands.context import Target
from commands.deals import ChangeDealAmount, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from consumers.store_follower import StoreFollower
from domain.deal import deal_status
from domain.errors import CrmError
from domain.ticket import Author, Priority, TicketStatus
from infra.event_store import load_aggregate
from infra.timeline import customer_events
from projections import deals, tickets
from projections.catalog import CUSTOMER_360, DEALS, RATINGS, TICKETS
from projections.customer_360 import queries
from projections.rebuild import rebuild
from tests.integration.conftest import context
from tests.integration.streams import stream
from tests.integration.test_rebuild_equals_live import DB_SETTINGS, run_all
from tests.strategies import business_times, customer_commands, registrations

OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")
READ_MODELS = {
    CUSTOMER_360: "customer_id", TICKETS: "ticket_id", DEALS: "deal_id", RATINGS: "rating_id",
}  # fmt: skip

ticket_commands = st.one_of(
    st.builds(ChangeTicketStatus, status=st.sampled_from(TicketStatus), occurred_at=business_times),
    st.builds(
        ReplyToTicket,
        author=st.sampled_from(Author),
        body=st.just("Thanks"),
        occurred_at=business_times,
    ),  # fmt: skip
    st.builds(
        RateSatisfaction,
        rating=st.integers(1, 5),
        comment=st.sampled_from([None, "Ok"]),
        occurred_at=business_times,
    ),  # fmt: skip
)
deal_commands = st.one_of(
    st.builds(MoveDeal, stage=st.sampled_from(OPEN_STAGES), occurred_at=business_times),
    st.builds(
        ChangeDealAmount, amount=st.integers(0, 5000).map(Decimal), occurred_at=business_times
    ),
    st.builds(WinDeal, occurred_at=business_times),
    st.builds(LoseDeal, reason=st.just("price"), occurred_at=business_times),
    st.builds(ReopenDeal, stage=st.sampled_from(OPEN_STAGES), occurred_at=business_times),
)
tickets_lived = st.lists(
    st.tuples(st.sampled_from(Priority), business_times, st.lists(ticket_commands, max_size=8)),
    max_size=2,
)
"""Tickets, each opened with a priority at a business time (None: now), then commanded."""
deals_lived = st.lists(
    st.tuples(st.sampled_from(OPEN_STAGES), business_times, st.lists(deal_commands, max_size=8)),
    max_size=2,
)
"""Deals, each opened in a stage at a business time (None: now), then commanded."""


def complaint(customer_id: UUID, priority: Priority, when: datetime | None) -> OpenComplaint:
    return OpenComplaint(
        customer_id=customer_id, subject="Late", description="Where is it?", priority=priority,
        channel="email", occurred_at=when,
    )  # fmt: skip


def deal(customer_id: UUID, stage: str, when: datetime | None) -> OpenDeal:
    return OpenDeal(
        customer_id=customer_id, title="Renewal", amount=Decimal(100), currency="EUR",
        stage=stage, occurred_at=when,
    )  # fmt: skip


def live(bus, opening: Command, commands: list[Command]) -> UUID:
    """Opens an aggregate and runs commands on it (the refused ones record nothing)."""
    aggregate_id = uuid4()
    bus.execute(Target(aggregate_id, creates=True), opening, context())
    for command in commands:
        try:
            bus.execute(Target(aggregate_id), command, context())
        except CrmError:
            pass
    return aggregate_id


def rows(conn, table: str, key: str) -> list[dict]:
    query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
        sql.Identifier(table), sql.Identifier(key)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def faithful(conn, shown: dict, read_model: ModuleType, view: type[BaseModel], shared: tuple):
    """Checks that `shown`, a stream's view in the read model, equals the view its stored
    events fold into and, on the `shared` fields, its aggregate replayed; returns that
    aggregate."""
    events = stream(conn, shown["id"])
    folded = read_model.queries.view(reduce(read_model.evolve.evolve, events, None))
    assert view.model_validate(shown) == view.model_validate(folded)
    aggregate = load_aggregate(conn, shown["id"])
    assert {name: shown[name] for name in shared} == {n: getattr(aggregate, n) for n in shared}
    return aggregate


def assert_faithful(conn, ticket_ids: list[UUID], deal_ids: list[UUID]) -> None:
    """Each ticket's and deal's read-model view equals the view its stored events fold into,
    and agrees with its aggregate replayed from them on what both hold."""
    for ticket_id in ticket_ids:
        shared = ("version", "customer_id", "status", "first_response_at", "solved_at", "closed_at")
        shown = tickets.queries.ticket(conn, ticket_id)
        ticket = faithful(conn, shown, tickets, TicketView, shared)
        assert (len(shown["replies"]), shown["satisfaction"] is not None) == (
            ticket.replies, ticket.rated,
        )  # fmt: skip
    for deal_id in deal_ids:
        shared = ("version", "customer_id", "stage", "amount", "currency")
        shown = deals.queries.deal(conn, deal_id)
        deal = faithful(conn, shown, deals, DealView, shared)
        assert shown["status"] == deal_status(deal.stage)


@DB_SETTINGS
@given(
    st.lists(
        st.tuples(
            registrations, st.lists(customer_commands, max_size=4), tickets_lived, deals_lived
        ),
        min_size=1,
        max_size=3,
    )
)
def test_read_models_with_tickets_and_deals_rebuild_equal_and_match_the_aggregates(
    container, customers
) -> None:
    # Given customers whose own commands (feedback...), tickets and deals were random
    bus = container.bus
    ids = run_all(bus, [(registration, commands) for registration, commands, _, _ in customers])
    ticket_ids, deal_ids = [], []
    for customer_id, (*_, lived_tickets, lived_deals) in zip(ids, customers, strict=True):
        for priority, when, commands in lived_tickets:
            ticket_ids.append(live(bus, complaint(customer_id, priority, when), commands))
        for stage, when, commands in lived_deals:
            deal_ids.append(live(bus, deal(customer_id, stage, when), commands))
    StoreFollower(container.store, container.pool, container.url, list(READ_MODELS)).catch_up()
    with container.pool.connection() as conn:
        live_rows = {p.name: rows(conn, p.name, key) for p, key in READ_MODELS.items()}
        # Then each ticket and deal shows what its aggregate, replayed, gives
        assert_faithful(conn, ticket_ids, deal_ids)
        # When the read models are rebuilt, and each customer is folded from its timeline
        for projection in READ_MODELS:
            rebuild(conn, projection)
        rebuilt = {p.name: rows(conn, p.name, key) for p, key in READ_MODELS.items()}
        far = datetime.now(UTC) + timedelta(days=1)
        as_of = {i: queries.as_of(customer_events(conn, i), far) for i in ids}
        current = {i: queries.get(conn, i) for i in ids}
    # Then the tables are equal, row for row, and so are the views
    assert rebuilt == live_rows
    assert as_of == current
