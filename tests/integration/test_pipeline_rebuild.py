"""The pipeline report through real commands: as of business and recorded times, and the same
answers from a rebuilt deals table."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from commands.base import Command
from commands.context import Target
from commands.deals import ChangeDealAmount, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal
from consumers.store_follower import StoreFollower
from projections.catalog import DEALS
from projections.deals.queries import PipelineQuery, pipeline
from projections.rebuild import rebuild
from tests.integration.conftest import context, register


def on(day: int) -> datetime:
    return datetime(2026, 1, day, 9, tzinfo=UTC)


def open_deal(bus, customer: UUID, owner: str, amount: str, stage: str, day: int) -> UUID:
    deal_id = uuid4()
    command = OpenDeal(
        customer_id=customer, title="Renewal", amount=Decimal(amount), currency="EUR",
        stage=stage, expected_close_date=None, owner=owner, occurred_at=on(day),
    )  # fmt: skip
    bus.execute(Target(deal_id, creates=True), command, context())
    return deal_id


def run(bus, deal_id: UUID, *commands: Command) -> None:
    for command in commands:
        bus.execute(Target(deal_id), command, context())


def test_the_pipeline_travels_in_time_and_a_rebuilt_table_gives_the_same_answers(
    container,
) -> None:
    # Given an owner's deals: a won on day 9 (amount raised on day 3), b lost on day 6 then
    # reopened in proposal on day 8, and (recorded later) c opened on day 4; another
    # owner's deal
    bus, owner = container.bus, f"rep-{uuid4().hex[:8]}"
    customer = register(bus)
    a = open_deal(bus, customer, owner, "1000", "prospecting", 1)
    b = open_deal(bus, customer, owner, "400", "qualification", 2)
    run(bus, a, ChangeDealAmount(amount=Decimal(1500), occurred_at=on(3)))
    run(bus, a, MoveDeal(stage="negotiation", occurred_at=on(5)))
    run(bus, b, LoseDeal(reason="price", occurred_at=on(6)))
    before_c = datetime.now(UTC)
    open_deal(bus, customer, owner, "200", "proposal", 4)
    open_deal(bus, customer, f"other-{owner}", "9999", "proposal", 4)
    run(bus, b, ReopenDeal(stage="proposal", occurred_at=on(8)))
    run(bus, a, WinDeal(occurred_at=on(9)))
    StoreFollower(container.store, container.pool, container.url, [DEALS]).catch_up()
    asked = {
        "now": PipelineQuery(owner=owner),
        "day 7": PipelineQuery(owner=owner, as_of=on(7)),
        "before c": PipelineQuery(owner=owner, as_of_recorded=before_c),
        "opened from day 2": PipelineQuery(owner=owner, opened_from=on(2), opened_to=on(5)),
    }
    with container.pool.connection() as conn:
        # When the pipeline is asked, before and after the deals table is rebuilt
        live = {name: pipeline(conn, query) for name, query in asked.items()}
        rebuild(conn, DEALS)
        rebuilt = {name: pipeline(conn, query) for name, query in asked.items()}
    # Then the answers are the same
    assert rebuilt == live
    # And now: a won (at 1500), b in proposal again, c in proposal
    now = live["now"]
    assert (now.win_rate.won, now.win_rate.lost, now.open.amount) == (1, 0, {"EUR": Decimal(600)})
    # And on day 7: a open in negotiation at 1500, b lost for price, c in proposal
    then = live["day 7"]
    assert {s.stage: s.count for s in then.stages if s.count} == {
        "negotiation": 1, "proposal": 1, "lost": 1
    }  # fmt: skip
    assert then.open.weighted_amount == {"EUR": Decimal(1200) + Decimal(100)}
    assert [(r.reason, r.count) for r in then.lost_reasons] == [("price", 1)]
    # And before c was recorded: a in negotiation, b lost (what was known then), no c
    known = live["before c"]
    assert {s.stage: s.count for s in known.stages if s.count} == {"negotiation": 1, "lost": 1}
    # And the period covers b and c (opened on days 2 and 4), not a (day 1)
    assert live["opened from day 2"].open.count == 2
