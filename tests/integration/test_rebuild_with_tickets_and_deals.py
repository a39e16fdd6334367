"""Law over a real PostgreSQL: with tickets and deals in the customers' histories, a rebuilt
customer_360 still equals the live one, and `?as_of` far ahead equals the live view."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from commands.context import Target
from commands.deals import ChangeDealAmount, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal
from commands.tickets import ChangeTicketStatus, OpenComplaint, ReplyToTicket
from consumers.store_follower import StoreFollower
from domain.errors import CrmError
from domain.ticket import Author, TicketStatus
from projections.catalog import CUSTOMER_360
from projections.customer_360 import queries
from projections.rebuild import rebuild
from projections.timeline import customer_events
from tests.integration.conftest import context
from tests.integration.test_rebuild_equals_live import DB_SETTINGS, rows, run_all
from tests.strategies import registrations

OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")

actions = st.lists(
    st.one_of(
        st.just(("complaint",)),
        st.tuples(st.just("ticket_status"), st.sampled_from(list(TicketStatus))),
        st.tuples(st.just("reply"), st.sampled_from(list(Author))),
        st.tuples(st.just("deal"), st.sampled_from(OPEN_STAGES)),
        st.tuples(st.just("move"), st.sampled_from(OPEN_STAGES)),
        st.tuples(st.just("amount"), st.integers(0, 5000)),
        st.just(("won",)),
        st.just(("lost",)),
        st.tuples(st.just("reopen"), st.sampled_from(OPEN_STAGES)),
    ),
    max_size=12,
)


COMMANDS = {
    "ticket_status": lambda status: ChangeTicketStatus(status=status),
    "reply": lambda author: ReplyToTicket(author=author, body="Thanks"),
    "move": lambda stage: MoveDeal(stage=stage),
    "amount": lambda amount: ChangeDealAmount(amount=Decimal(amount)),
    "won": WinDeal,
    "lost": lambda: LoseDeal(reason="price"),
    "reopen": lambda stage: ReopenDeal(stage=stage),
}


def act(bus, customer_id: UUID, action: tuple, last: dict[str, UUID]) -> None:
    """Opens a ticket or a deal, or runs a command on the customer's latest one (if any)."""
    kind, *args = action
    if kind == "complaint":
        last["ticket"] = uuid4()
        complaint = OpenComplaint(
            customer_id=customer_id, subject="Late", description="Where is it?", channel="email"
        )
        bus.execute(Target(last["ticket"], creates=True), complaint, context())
    elif kind == "deal":
        last["deal"] = uuid4()
        deal = OpenDeal(
            customer_id=customer_id, title="Renewal", amount=Decimal(100), currency="EUR",
            stage=args[0],
        )  # fmt: skip
        bus.execute(Target(last["deal"], creates=True), deal, context())
    elif (
        target := last.get("ticket" if kind in ("ticket_status", "reply") else "deal")
    ) is not None:
        try:
            bus.execute(Target(target), COMMANDS[kind](*args), context())
        except CrmError:
            pass  # a refused command records nothing, live or rebuilt


@DB_SETTINGS
@given(st.lists(st.tuples(registrations, actions), min_size=1, max_size=3))
def test_rebuilding_customer_360_with_tickets_and_deals_equals_the_live_table(
    container, customers
) -> None:
    # Given customers whose tickets and deals went through random commands
    ids = run_all(container.bus, [(registration, []) for registration, _ in customers])
    for customer_id, (_, steps) in zip(ids, customers, strict=True):
        last: dict[str, UUID] = {}
        for step in steps:
            act(container.bus, customer_id, step, last)
    StoreFollower(container.store, container.pool, container.url, [CUSTOMER_360]).catch_up()
    with container.pool.connection() as conn:
        live = rows(conn)
        # When customer_360 is rebuilt, and each customer is folded from its timeline
        rebuild(conn, CUSTOMER_360)
        rebuilt = rows(conn)
        far = datetime.now(UTC) + timedelta(days=1)
        as_of = {i: queries.as_of(customer_events(conn, i), far) for i in ids}
        current = {i: queries.get(conn, i) for i in ids}
    # Then the tables are equal, row for row, and so are the views
    assert rebuilt == live
    assert as_of == current
