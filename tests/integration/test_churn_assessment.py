"""Churn risk on the read models of a real PostgreSQL, as of a past instant, against
hand-computed signals: five customers, each firing different signals."""

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from api.bootstrap import Container
from commands.campaigns import CreateCampaign, RecordEmailOpen, RecordEmailSend, RequestCampaignSend
from commands.context import Target
from commands.customers import GiveFeedback, RecordPurchase
from commands.sla import SetSlaPolicy
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction
from consumers.store_follower import StoreFollower
from domain.churn.bgnbd import p_alive
from domain.churn.risk import WEIGHTS
from domain.sla_policy import policy_id
from domain.ticket import Priority, TicketKind, TicketStatus
from projections.catalog import PROJECTIONS
from projections.churn import assessment
from projections.churn.buyers import read_buyers
from projections.churn.ranking import Ranking, rank
from tests.integration.conftest import context, crm_on, register

AT = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02}:00:00+00:00")


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: the model and RFM scores cover every buyer."""
    with crm_on(new_database()) as built:
        yield built


def run(crm: Container, target: UUID, command: object, creates: bool = False) -> None:
    crm.bus.execute(Target(target, creates=creates), command, context())  # type: ignore[arg-type]


def buy(crm: Container, customer: UUID, day: str, total: str, currency: str = "EUR") -> None:
    order = RecordPurchase(
        order_id=str(uuid4()), total=Decimal(total), currency=currency, occurred_at=at(day)
    )
    run(crm, customer, order)


def complaint(crm: Container, customer: UUID, day: str, **fields: object) -> UUID:
    ticket = uuid4()
    opened = OpenComplaint(customer_id=customer, subject="Late", description="Where?",
                           channel="email", occurred_at=at(day), **fields)  # type: ignore[arg-type]  # fmt: skip
    run(crm, ticket, opened, creates=True)
    return ticket


def move(crm: Container, ticket: UUID, status: TicketStatus, day: str) -> None:
    run(crm, ticket, ChangeTicketStatus(status=status, occurred_at=at(day)))


def emailed(crm: Container, customer: UUID, sent: str, opened: str | None) -> None:
    campaign = uuid4()
    create = CreateCampaign(name=sent, subject="Hi", body_html="<p>Hi</p>", customer_ids=[customer])
    run(crm, campaign, create, creates=True)
    run(crm, campaign, RequestCampaignSend())
    run(crm, customer, RecordEmailSend(campaign_id=campaign, message_id=f"<{campaign}@crm>",
                                       occurred_at=at(sent)))  # fmt: skip
    if opened:
        run(crm, customer, RecordEmailOpen(campaign_id=campaign, user_agent=BROWSER,
                                           occurred_at=at(opened, 15)))  # fmt: skip


@pytest.fixture(scope="module")
def customers(crm: Container) -> dict[str, UUID]:
    """Five buyers as of AT (30 June 2026, noon UTC), each firing different signals."""
    ids = {name: register(crm.bus, name=name, email=f"{name}@example.com",
                          consent={"email_marketing": True})
           for name in ("ada", "ben", "cy", "di", "eve")}  # fmt: skip
    # ada: every 30 days until 6 March (overdue at 116 days), two complaints open at AT
    for day in ("2026-01-05", "2026-02-04", "2026-03-06"):
        buy(crm, ids["ada"], day, "100")
    complaint(crm, ids["ada"], "2026-06-01")
    later_solved = complaint(crm, ids["ada"], "2026-06-15")
    move(crm, later_solved, TicketStatus.SOLVED, "2026-07-10")
    solved = complaint(crm, ids["ada"], "2026-05-01")
    move(crm, solved, TicketStatus.SOLVED, "2026-05-03")
    complaint(crm, ids["ada"], "2026-07-02")
    # ben: two recent purchases, a high-priority request unanswered past its hour, a rating of 1
    buy(crm, ids["ben"], "2026-06-01", "50")
    buy(crm, ids["ben"], "2026-06-20", "50")
    policy = SetSlaPolicy(priority=Priority.HIGH, first_response_minutes=60,
                          resolution_minutes=480, occurred_at=at("2026-01-01"))  # fmt: skip
    run(crm, policy_id(Priority.HIGH), policy, creates=True)
    complaint(crm, ids["ben"], "2026-06-25", priority=Priority.HIGH,
              kind=TicketKind.SERVICE_REQUEST)  # fmt: skip
    run(crm, ids["ben"], GiveFeedback(rating=1, occurred_at=at("2026-06-10")))
    run(crm, ids["ben"], GiveFeedback(rating=2, occurred_at=at("2025-11-01")))  # too long ago
    rated = complaint(crm, ids["ben"], "2026-06-02", kind=TicketKind.SERVICE_REQUEST)
    move(crm, rated, TicketStatus.SOLVED, "2026-06-03")
    run(crm, rated, RateSatisfaction(rating=5, occurred_at=at("2026-06-04")))
    # cy: once, on 1 February (the longest without a purchase)
    buy(crm, ids["cy"], "2026-02-01", "20")
    # di: first in USD (the main currency), then monthly in EUR
    buy(crm, ids["di"], "2026-04-10", "999", "USD")
    buy(crm, ids["di"], "2026-05-10", "10")
    buy(crm, ids["di"], "2026-06-09", "10")
    # eve: bought the day before AT (and after it); opened February's emails, not May's
    buy(crm, ids["eve"], "2026-06-29", "40")
    buy(crm, ids["eve"], "2026-07-05", "40")
    emailed(crm, ids["eve"], "2026-02-02", "2026-02-03")
    emailed(crm, ids["eve"], "2026-02-16", "2026-02-16")
    emailed(crm, ids["eve"], "2026-05-04", None)
    emailed(crm, ids["eve"], "2026-05-18", "2026-07-01")  # opened after AT
    StoreFollower(crm.store, crm.pool, crm.url, list(PROJECTIONS.values())).catch_up()
    return ids


def ranked(crm: Container, at: datetime = AT) -> Ranking:
    with crm.pool.connection() as conn:
        return rank(conn, read_buyers(conn, at.date()), at)


def listed(crm: Container, at: datetime = AT) -> list[assessment.Assessment]:
    return ranked(crm, at).page(None, None, 100).items


def by_name(items: list[assessment.Assessment], ids: dict[str, UUID]) -> dict[str, dict]:
    names = {customer: name for name, customer in ids.items()}
    return {names[a.customer_id]: a.signals for a in items}


def test_each_signal_is_read_as_of_the_instant_asked(crm, customers) -> None:
    # When the buyers are assessed as of AT
    signals = by_name(listed(crm), customers)

    def each(*fields: str) -> dict[str, tuple]:
        return {n: tuple(s[f] for f in fields) for n, s in signals.items()}

    # Then recency, frequency and usual gaps are counted in UTC days up to AT
    assert each("recency_days", "frequency", "usual_gap_days") == {
        "ada": (116, 3, 30.0), "ben": (10, 2, 19.0), "cy": (149, 1, None),
        "di": (21, 3, 30.0), "eve": (1, 1, None),
    }  # fmt: skip
    # And monetary is spent in the first purchase's currency, scored within that currency
    assert each("monetary") == {
        "ada": ({"total": 300, "currency": "EUR"},), "ben": ({"total": 100, "currency": "EUR"},),
        "cy": ({"total": 20, "currency": "EUR"},), "di": ({"total": 999, "currency": "USD"},),
        "eve": ({"total": 40, "currency": "EUR"},),
    }  # fmt: skip
    # By percentile rank in recency [1, 10, 21, 116, 149] days, repeat days [0, 0, 1, 2, 2]
    # and spend in EUR [20, 40, 100, 300] (di alone in USD)
    assert {n: s["rfm"]["score"] for n, s in signals.items()} == {
        "ada": "255", "ben": "434", "cy": "111", "di": "353", "eve": "512",
    }  # fmt: skip
    # And complaints open at AT (one solved only later), breaches at AT, recent low ratings
    assert each("open_complaints", "sla_breaches", "low_ratings") == {
        "ada": (2, 0, 0), "ben": (0, 1, 1), "cy": (0, 0, 0), "di": (0, 0, 0), "eve": (0, 0, 0),
    }  # fmt: skip
    # And eve opened both emails of the earlier 90 days and none of the last 90 (by AT)
    assert signals["eve"]["email_engagement"] == {
        "recent_sent": 2, "recent_opened": 0, "earlier_sent": 2, "earlier_opened": 2,
        "falling": True,
    }  # fmt: skip
    assert each("fired") == {
        "ada": (["overdue", "open_complaints"],), "ben": (["low_ratings", "sla_breaches"],),
        "cy": (["lapsing"],), "di": ([],), "eve": (["falling_engagement"],),
    }  # fmt: skip


def test_risk_combines_the_models_p_alive_with_the_signals(crm, customers) -> None:
    # When the buyers are assessed as of AT
    items = listed(crm)
    with crm.pool.connection() as conn:
        found = read_buyers(conn, AT.date())
    # Then P(alive) is the fitted model's on each history
    expected = p_alive(found.model, found.x, found.t_x / 7, found.T / 7)
    by_customer = {found.customer(i): p for i, p in enumerate(expected)}
    for item in items:
        assert item.p_alive == pytest.approx(by_customer[item.customer_id])
        # And the risk is 1 - P(alive) x (1 - weight) of each signal that fired
        stay = math.prod(1 - WEIGHTS[name] for name in item.signals["fired"])
        assert item.risk == pytest.approx(1 - item.p_alive * stay)
        assert sum(share for _, share in item.drivers) == pytest.approx(item.risk)
    # And the list runs from the highest risk down
    scores = [item.risk for item in items]
    assert scores == sorted(scores, reverse=True)


def test_pages_and_levels_split_the_same_list(crm, customers) -> None:
    ranking = ranked(crm)
    everyone = ranking.page(None, None, 100).items
    # When it is read two at a time
    pages, after = [], None
    while True:
        page = ranking.page(None, after, limit=2)
        pages.append(page.items)
        if page.next_cursor is None:
            break
        after = assessment.position(page.next_cursor)
    # And a level at a time
    levels = {lv: ranking.page(lv, None, 10).items for lv in ("high", "medium", "low")}
    # Then the pages are the list, in order, and each level holds its own part of it
    assert [a for p in pages for a in p] == everyone
    assert [len(p) for p in pages] == [2, 2, 1]
    for lv, items in levels.items():
        assert items == [a for a in everyone if a.level == lv]


def test_one_customers_outlook_is_their_item_of_the_list(crm, customers) -> None:
    everyone = {a.customer_id: a for a in listed(crm)}
    with crm.pool.connection() as conn:
        buyers = read_buyers(conn, AT.date())
        for customer in customers.values():
            # When one customer is assessed alone (the 360 view)
            found = assessment.outlook(conn, buyers, AT, customer)
            # Then it is their entry of the list, exactly
            assert found["churn_risk"] == assessment.shown(everyone[customer]) | {"as_of": AT}


def test_later_purchases_and_the_day_after_move_the_answer(crm, customers) -> None:
    # When assessed a week later, eve's purchase of 5 July counts, and cy is a week further
    now, week_later = (
        by_name(listed(crm), customers),
        by_name(listed(crm, AT + timedelta(days=7)), customers),
    )
    assert week_later["eve"]["frequency"] == 2
    assert week_later["cy"]["recency_days"] == now["cy"]["recency_days"] + 7
