"""SLA over a real PostgreSQL: policies as events and a read model, and the SLA of tickets
measured at query time from their clocks (a database per test: policies are global)."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from psycopg.rows import dict_row

from api.bootstrap import Container
from commands.context import Target
from commands.sla import BusinessHoursSetting, SetSlaPolicy
from commands.tickets import ChangeTicketStatus, OpenComplaint, ReplyToTicket
from consumers.sla_breaches import SlaBreachRecorder
from consumers.store_follower import StoreFollower
from domain.sla_policy import policy_id
from domain.ticket import Author, Priority, TicketStatus
from infra import page_cursor as cursor_codec
from infra.timeline import customer_events
from projections.catalog import SLA_CLOCKS, SLA_POLICIES
from projections.rebuild import rebuild
from projections.sla.summary import sla_summary
from projections.sla.tickets import sla_tickets
from tests.integration.conftest import context, crm_on, register

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris
OFFICE = BusinessHoursSetting(
    timezone="Europe/Paris", days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="18:00"
)


@pytest.fixture
def crm(new_database: Callable[[], str]) -> Iterator[Container]:
    with crm_on(new_database()) as built:
        yield built


def set_policy(crm: Container, priority: Priority, when: datetime, **terms: object) -> dict:
    command = SetSlaPolicy(priority=priority, occurred_at=when, **terms)  # type: ignore[arg-type]
    target = Target(policy_id(priority), creates=True)
    return crm.bus.execute(target, command, context()).body


def open_ticket(crm: Container, priority: Priority, when: datetime) -> UUID:
    ticket_id = uuid4()
    command = OpenComplaint(
        customer_id=register(crm.bus), subject="Late", description="Where?",
        priority=priority, channel="email", occurred_at=when,
    )  # fmt: skip
    crm.bus.execute(Target(ticket_id, creates=True), command, context())
    return ticket_id


def reply(crm: Container, ticket_id: UUID, author: Author, when: datetime) -> None:
    command = ReplyToTicket(author=author, body="Hello", occurred_at=when)
    crm.bus.execute(Target(ticket_id), command, context())


def move(crm: Container, ticket_id: UUID, status: TicketStatus, when: datetime) -> None:
    crm.bus.execute(
        Target(ticket_id), ChangeTicketStatus(status=status, occurred_at=when), context()
    )


def sla(crm: Container, as_of: datetime, **filters: object) -> dict[UUID, dict]:
    StoreFollower(crm.store, crm.pool, crm.url, [SLA_CLOCKS, SLA_POLICIES]).catch_up()
    with crm.pool.connection() as conn:
        page = sla_tickets(conn, as_of, limit=500, **filters)  # type: ignore[arg-type]
    return {item["ticket_id"]: item for item in page.items}


def test_each_policy_change_is_a_new_version_and_the_same_terms_record_nothing(crm) -> None:
    # Given a policy for low tickets, then a change, then the same terms again
    first = set_policy(crm, Priority.LOW, T0, first_response_minutes=60, resolution_minutes=600)
    changed = set_policy(crm, Priority.LOW, T0, first_response_minutes=30, resolution_minutes=600)
    again = set_policy(crm, Priority.LOW, T0, first_response_minutes=30, resolution_minutes=600)
    # Then the id is the priority's, and only the change made a version
    assert first == {"id": str(policy_id(Priority.LOW)), "version": 1}
    assert changed["version"] == again["version"] == 2
    StoreFollower(crm.store, crm.pool, crm.url, [SLA_POLICIES]).catch_up()
    with crm.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        live = cur.execute("SELECT * FROM sla_policies ORDER BY id").fetchall()
        rebuild(conn, SLA_POLICIES)
        rebuilt = cur.execute("SELECT * FROM sla_policies ORDER BY id").fetchall()
    row = next(r for r in live if r["id"] == policy_id(Priority.LOW))
    assert [(v["version"], v["first_response_minutes"]) for v in row["versions"]] == [
        (1, 60),
        (2, 30),
    ]
    assert rebuilt == live


def test_a_round_the_clock_ticket_goes_ok_at_risk_breached_as_time_passes(crm) -> None:
    # Given urgent tickets must be answered within 60 minutes and solved within 240
    set_policy(crm, Priority.URGENT, T0, first_response_minutes=60, resolution_minutes=240)
    ticket = open_ticket(crm, Priority.URGENT, T0 + timedelta(hours=1))
    opened = T0 + timedelta(hours=1)
    # When no event arrives, time alone moves its state
    states = [sla(crm, opened + timedelta(minutes=m))[ticket]["state"] for m in (30, 45, 60, 61)]
    # Then it is ok, at risk from 3/4 of the target, breached once it is used up
    assert states == ["ok", "at_risk", "breached", "breached"]
    seen = sla(crm, opened + timedelta(minutes=30))[ticket]
    assert seen["first_response"] == {
        "target_minutes": 60, "elapsed_seconds": 1800.0, "due_at": opened + timedelta(hours=1),
        "state": "ok", "responded_at": None,
    }  # fmt: skip
    assert seen["resolution"]["due_at"] == opened + timedelta(hours=4)
    assert (seen["policy_id"], seen["policy_version"]) == (policy_id(Priority.URGENT), 1)


def test_pending_pauses_the_clocks_and_a_reply_meets_the_first_response(crm) -> None:
    set_policy(crm, Priority.HIGH, T0, first_response_minutes=60, resolution_minutes=120)
    opened = T0 + timedelta(hours=2)
    ticket = open_ticket(crm, Priority.HIGH, opened)
    # Given an agent replied after 20 minutes, and the ticket waited on the customer for an
    # hour from minute 30
    reply(crm, ticket, Author.AGENT, opened + timedelta(minutes=20))
    move(crm, ticket, TicketStatus.PENDING, opened + timedelta(minutes=30))
    # Then while pending the resolution clock is paused, with no due time
    paused = sla(crm, opened + timedelta(minutes=80))[ticket]
    assert (paused["paused"], paused["state"]) == (True, "ok")
    assert (
        paused["resolution"] | {"elapsed_seconds": 1800.0, "due_at": None} == paused["resolution"]
    )
    assert paused["first_response"]["state"] == "met"
    # When the customer answers (the ticket opens again) / Then the clock resumes
    reply(crm, ticket, Author.CUSTOMER, opened + timedelta(minutes=90))
    resumed = sla(crm, opened + timedelta(minutes=100))[ticket]
    assert resumed["resolution"]["elapsed_seconds"] == 40 * 60
    assert resumed["resolution"]["due_at"] == opened + timedelta(minutes=180)
    # And solving it within the target meets both targets
    move(crm, ticket, TicketStatus.SOLVED, opened + timedelta(minutes=150))
    solved = sla(crm, opened + timedelta(days=3))[ticket]
    assert (solved["state"], solved["resolution"]["state"]) == ("met", "met")
    assert solved["resolution"]["elapsed_seconds"] == 90 * 60
    # And the clocks read model rebuilds to the live one
    with crm.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        live = cur.execute("SELECT * FROM sla_clocks ORDER BY ticket_id").fetchall()
        rebuild(conn, SLA_CLOCKS)
        assert cur.execute("SELECT * FROM sla_clocks ORDER BY ticket_id").fetchall() == live


def test_open_tickets_take_a_new_policy_at_once_and_settled_ones_keep_theirs(crm) -> None:
    # Given normal tickets under a policy in business hours, one solved, one still open
    set_policy(crm, Priority.NORMAL, T0, first_response_minutes=240, resolution_minutes=960,
               business_hours=OFFICE)  # fmt: skip
    settled = open_ticket(crm, Priority.NORMAL, T0)
    move(crm, settled, TicketStatus.SOLVED, T0 + timedelta(hours=1))
    waiting = open_ticket(crm, Priority.NORMAL, T0)
    assert sla(crm, T0 + timedelta(hours=2))[waiting]["state"] == "ok"
    # When the policy is tightened (no ticket event follows)
    changed_at = T0 + timedelta(hours=3)
    set_policy(crm, Priority.NORMAL, changed_at, first_response_minutes=120,
               resolution_minutes=960, business_hours=OFFICE)  # fmt: skip
    seen = sla(crm, changed_at + timedelta(minutes=1))
    # Then the open ticket is measured by version 2 at once, the solved one by version 1
    assert (seen[waiting]["policy_version"], seen[waiting]["state"]) == (2, "breached")
    assert seen[waiting]["first_response"]["due_at"] == T0 + timedelta(hours=2)
    assert (seen[settled]["policy_version"], seen[settled]["state"]) == (1, "met")


def test_business_hours_skip_the_weekend_and_filters_page_through_states(crm) -> None:
    # Given a ticket opened on Friday 17:30 in Paris under office hours (normal priority)
    friday = datetime(2026, 6, 5, 15, 30, tzinfo=UTC)
    set_policy(crm, Priority.NORMAL, friday - timedelta(days=1), first_response_minutes=240,
               resolution_minutes=960, business_hours=OFFICE)  # fmt: skip
    ticket = open_ticket(crm, Priority.NORMAL, friday)
    # Then its four-hour first response falls due on Monday 12:30 in Paris
    monday = sla(crm, friday + timedelta(days=2))[ticket]
    assert monday["first_response"]["due_at"] == datetime(2026, 6, 8, 10, 30, tzinfo=UTC)
    assert monday["first_response"]["elapsed_seconds"] == 30 * 60
    # And a state filter lists tickets in it, a page at a time, in ticket-id order
    others = [open_ticket(crm, Priority.NORMAL, friday) for _ in range(2)]
    ok = sla(crm, friday + timedelta(days=2), state="ok")
    assert set(ok) == {ticket, *others} and {item["state"] for item in ok.values()} == {"ok"}
    assert sla(crm, friday + timedelta(days=2), state="breached") == {}
    assert pages(crm, friday + timedelta(days=2), limit=2) == sorted([ticket, *others])


def pages(crm: Container, as_of: datetime, limit: int) -> list[UUID]:
    """The ids of every ticket measured, following the cursor page after page."""
    seen, after = [], None
    with crm.pool.connection() as conn:
        while True:
            page = sla_tickets(conn, as_of, after=after, limit=limit)
            seen += [item["ticket_id"] for item in page.items]
            if page.next_cursor is None:
                return seen
            after = UUID(cursor_codec.decode(page.next_cursor))


def test_tickets_are_measured_once_their_priority_has_a_policy_in_force(crm) -> None:
    # Given a low ticket, and a policy for low tickets in force from a day later
    ticket = open_ticket(crm, Priority.LOW, T0)
    assert sla(crm, T0 + timedelta(hours=1)) == {}
    set_policy(crm, Priority.LOW, T0 + timedelta(days=1), first_response_minutes=60,
               resolution_minutes=600)  # fmt: skip
    # Then the ticket is measured from then on, from its opening; not before it was opened
    assert sla(crm, T0 + timedelta(hours=1)) == {}
    assert sla(crm, T0 + timedelta(days=1))[ticket]["state"] == "breached"
    assert sla(crm, T0 - timedelta(minutes=1)) == {}


def test_the_summary_counts_compliance_the_median_first_response_and_resolutions(crm) -> None:
    # Given urgent tickets (60 / 240 minutes, round the clock) opened the same Monday:
    # one answered in 30 minutes and solved in 2 hours, one answered in 90 minutes, one not
    set_policy(crm, Priority.URGENT, T0, first_response_minutes=60, resolution_minutes=240)
    quick, slow, silent = (open_ticket(crm, Priority.URGENT, T0) for _ in range(3))
    reply(crm, quick, Author.AGENT, T0 + timedelta(minutes=30))
    move(crm, quick, TicketStatus.SOLVED, T0 + timedelta(hours=2))
    reply(crm, slow, Author.AGENT, T0 + timedelta(minutes=90))
    assert silent in sla(crm, T0 + timedelta(hours=3))  # the read models caught up
    # When summarised by week, three hours after the opening
    with crm.pool.connection() as conn:
        buckets = sla_summary(conn, T0 + timedelta(hours=3), "week", T0 - timedelta(days=1))
    # Then two first responses are breached (one still unanswered), the resolutions still
    # running are not counted, and the median first response is the middle of 30 and 90
    assert buckets == [
        {
            "start": date(2026, 6, 1), "priority": "urgent", "tickets": 3,
            "first_response": {"met": 1, "breached": 2, "compliance": 0.3333,
                               "median_seconds": 3600.0},
            "resolution": {"met": 1, "breached": 0, "compliance": 1.0},
            "resolution_rate": 0.3333,
        }
    ]  # fmt: skip


def test_each_breach_is_recorded_once_as_a_ticket_event_at_its_due_time(crm) -> None:
    # Given an urgent ticket opened long ago, answered late, never solved
    set_policy(crm, Priority.URGENT, T0, first_response_minutes=60, resolution_minutes=240)
    ticket = open_ticket(crm, Priority.URGENT, T0)
    reply(crm, ticket, Author.AGENT, T0 + timedelta(hours=2))
    # When the breach recorder looks, twice (the read model caught up in between)
    recorder = SlaBreachRecorder(crm, clock=iter(range(0, 1000, 100)).__next__)
    for _ in range(2):
        StoreFollower(crm.store, crm.pool, crm.url, [SLA_CLOCKS, SLA_POLICIES]).catch_up()
        recorder.step()
    # Then each target's breach is one event of the ticket, at its due time
    with crm.pool.connection() as conn:
        events = [e for e in customer_events(conn, ticket_customer(conn, ticket))
                  if e.type == "Ticket.SlaBreached"]  # fmt: skip
    assert sorted((e.data["target"], e.occurred_at, e.data["policy_version"]) for e in events) == [
        ("first_response", T0 + timedelta(hours=1), 1),
        ("resolution", T0 + timedelta(hours=4), 1),
    ]


def ticket_customer(conn, ticket_id: UUID) -> UUID:
    query = "SELECT customer_id FROM sla_clocks WHERE ticket_id = %s"
    return conn.execute(query, (ticket_id,)).fetchone()[0]
