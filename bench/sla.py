"""Query time of `GET /v1/sla/tickets` over 100,000 tickets.

Seeds a database through the `CommandBus`: customers with ten tickets each, opened over the
last 60 days of business time, the priorities in turn. Of every 20 tickets, 14 got an agent
reply and were solved (7 of them closed since), 3 got a reply and are still open, 1 got a
reply and waits on the customer, 2 got nothing yet (events that would fall in the future are
left out, so recent tickets are further behind). Each priority gets a policy: office hours in
Paris for low, normal and high, round the clock for urgent. The read models are rebuilt, then
every ticket is read and measured in one run in this process (three times), then a real
`crm serve` answers, and each query is timed over HTTP, `--rounds` times:
  - the first page (100 tickets) with no filter, and with each `state`;
  - every page of the whole list (500 a page), following the cursor.
It prints; it asserts nothing.

Run:  python -m bench.sla [--tickets 100000] [--rounds 5]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--reuse-database URL]
A database crm_bench_<random> is created at --database-url and dropped at the end. Or, with
--reuse-database, an existing database (`createdb crm_sla` first) is seeded unless it holds
events already, and kept: reruns skip the seeding (the SLA read models are rebuilt each run).
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from uuid import UUID, uuid4

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from api.bootstrap import bootstrap
from bench.commands import chosen_database, free_port, running, wait_until
from bench.replay import count_events, registration, run_all
from commands.base import Command
from commands.context import Target
from commands.sla import BusinessHoursSetting, SetSlaPolicy
from commands.tickets import ChangeTicketStatus, OpenComplaint, ReplyToTicket
from domain.business_time import micros
from domain.sla_policy import policy_id
from domain.ticket import Author, Priority, TicketStatus
from infra.api_keys import Role, create_key
from infra.settings import Settings
from infra.stored_events import head
from projections.catalog import PROJECTIONS, SLA_CLOCKS, SLA_POLICIES
from projections.projection import states
from projections.rebuild import rebuild
from projections.sla.measure import measure as measure_all
from projections.sla.policies import policies
from projections.sla.ticket_clocks import ticket_run

TICKETS_PER_CUSTOMER = 10
WAVE = 10_000
SPAN = timedelta(days=60)
OFFICE = BusinessHoursSetting(
    timezone="Europe/Paris", days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="18:00"
)
TERMS = {
    Priority.LOW: (480, 4800, OFFICE),
    Priority.NORMAL: (240, 2400, OFFICE),
    Priority.HIGH: (60, 960, OFFICE),
    Priority.URGENT: (30, 240, None),
}
STATES = (None, "ok", "at_risk", "breached", "met")
SLA = (SLA_CLOCKS, SLA_POLICIES)
console = Console()


def lifecycle(n: int, opened: datetime) -> list[tuple[datetime, TicketStatus | None]]:
    """What happened to the `n`th ticket after its opening, by business time (see the top):
    an agent's reply (None) or a status change."""
    kind = n % 20
    if kind >= 18:
        return []
    replied = opened + timedelta(minutes=5 + n * 37 % 900)
    events: list[tuple[datetime, TicketStatus | None]] = [(replied, None)]
    if kind == 17:
        events.append((replied + timedelta(minutes=30), TicketStatus.PENDING))
    if kind < 14:
        solved = replied + timedelta(minutes=60 + n * 53 % 4000)
        events.append((solved, TicketStatus.SOLVED))
        if kind % 2:
            events.append((solved + timedelta(days=2), TicketStatus.CLOSED))
    return events


def happening(at: datetime, status: TicketStatus | None) -> Command:
    if status is None:
        return ReplyToTicket(author=Author.AGENT, body="On it", occurred_at=at)
    return ChangeTicketStatus(status=status, occurred_at=at)


def seed(settings: Settings, tickets: int) -> None:
    """Registers the customers, sets the policies, opens the tickets and lives their lives,
    a wave of WAVE commands at a time (the bus group-commits each wave)."""
    now = datetime.now(UTC)
    start, step = now - SPAN, SPAN / tickets
    customers = [uuid4() for _ in range(max(1, tickets // TICKETS_PER_CUSTOMER))]
    ids = [uuid4() for _ in range(tickets)]
    container = bootstrap(settings)
    container.start()
    try:
        waves(
            container.bus,
            [(Target(c, creates=True), registration(n)) for n, c in enumerate(customers)],
        )
        waves(container.bus, [policy(priority, start - timedelta(days=1)) for priority in Priority])
        opened = [start + n * step for n in range(tickets)]
        waves(container.bus, [
            (Target(t, creates=True), complaint(customers[n % len(customers)], n, opened[n]))
            for n, t in enumerate(ids)
        ])  # fmt: skip
        later = [(t, lifecycle(n, opened[n])) for n, t in enumerate(ids)]
        for step_index in range(3):
            waves(container.bus, [
                (Target(t), happening(*events[step_index])) for t, events in later
                if len(events) > step_index and events[step_index][0] < now - timedelta(minutes=1)
            ])  # fmt: skip
    finally:
        container.close()


def policy(priority: Priority, at: datetime) -> tuple[Target, Command]:
    first_response, resolution, hours = TERMS[priority]
    command = SetSlaPolicy(priority=priority, first_response_minutes=first_response,
                           resolution_minutes=resolution, business_hours=hours, occurred_at=at)  # fmt: skip
    return Target(policy_id(priority), creates=True), command


def complaint(customer_id: UUID, n: int, at: datetime) -> OpenComplaint:
    return OpenComplaint(
        customer_id=customer_id, subject=f"Ticket {n}", description="It broke.",
        priority=list(Priority)[n % 4], channel="email", occurred_at=at,
    )  # fmt: skip


def waves(bus, commands: list[tuple[Target, Command]]) -> None:
    for first in range(0, len(commands), WAVE):
        run_all(bus, commands[first : first + WAVE])


def build_read_models(url: str) -> None:
    """Rebuilds the SLA read models, and any other behind the event store, so that `crm
    serve` has nothing to catch up with while it is timed; then gathers their planner
    statistics, as autovacuum soon would (the plans of a table without any are poor)."""
    with psycopg.connect(url) as conn:
        latest, known = head(conn), states(conn)
        for projection in PROJECTIONS.values():
            state = known.get(projection.name)
            if projection in SLA or state is None or state.position < latest:
                started = time.perf_counter()
                rebuild(conn, projection)
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(projection.name)))
                console.print(f"rebuilt {projection.name} in {time.perf_counter() - started:.1f} s")


def all_at_once(url: str) -> None:
    """Reads and measures every ticket in one run, in this process: the vectorised work a
    page of a state no ticket is in costs at most (one run of 25,000 at a time)."""
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        known, instant = policies(conn), micros(datetime.now(UTC))
        for _ in range(3):
            started = time.perf_counter()
            run = ticket_run(conn, known, None, instant, None, 1_000_000)
            read = time.perf_counter()
            measure_all(run.clocks, known, instant)
            done = time.perf_counter()
            console.print(
                f"{len(run):,} tickets in one run: read {1000 * (read - started):.0f} ms, "
                f"measured {1000 * (done - read):.0f} ms"
            )
            conn.rollback()


def analyst_key(url: str) -> str:
    with psycopg.connect(url) as conn:
        key, _ = create_key(conn, Role.ANALYST, "sla-bench")
        conn.commit()
    return key


def timed(
    base: str, headers: dict[str, str], params: dict[str, str], path: str = "/v1/sla/tickets"
) -> tuple[float, dict]:
    """Seconds for one GET of `path` (the SLA tickets by default), and its answer."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    started = time.perf_counter()
    try:
        conn.request("GET", f"{path}?{urlencode(params)}", headers=headers)
        response = conn.getresponse()
        status, body = response.status, response.read()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return seconds, json.loads(body)


def full_pass(base: str, headers: dict[str, str], as_of: str) -> tuple[float, dict[str, int]]:
    """Seconds to read every page (500 a page), and how many tickets are in each state."""
    started, counts, params = (
        time.perf_counter(),
        dict.fromkeys(STATES[1:], 0),
        {"limit": "500", "as_of": as_of},
    )
    while True:
        _, page = timed(base, headers, params)
        for item in page["items"]:
            counts[item["state"]] += 1
        if page["next_cursor"] is None:
            return time.perf_counter() - started, counts
        params["cursor"] = page["next_cursor"]


def measure(url: str, rounds: int) -> None:
    """Times the queries over HTTP against a `crm serve` of its own, `rounds` times each."""
    port, crm = free_port(), str(Path(sys.executable).parent / "crm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")} | {
        "CRM_DATABASE_URL": url, "CRM_PORT": str(port), "CRM_HOST": "127.0.0.1",
        "CRM_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {analyst_key(url)}"}
    with running([crm, "serve"], env, "Serving on"):
        wait_until(f"{base}/healthz", 200)
        as_of = datetime.now(UTC).isoformat()
        table = Table(title=f"GET /v1/sla/tickets (load {os.getloadavg()[0]:.1f})")
        for column in ("query", "items", "median ms", "min ms", "max ms"):
            table.add_column(column, justify="left" if column == "query" else "right")
        for state in STATES:
            params = {"limit": "100", "as_of": as_of} | ({"state": state} if state else {})
            runs = [timed(base, headers, params) for _ in range(rounds)]
            add_row(table, f"first page, state={state or 'any'}", len(runs[0][1]["items"]), runs)
        passes = [full_pass(base, headers, as_of) for _ in range(rounds)]
        add_row(table, "every page (500 a page)", sum(passes[0][1].values()), passes)
        weekly = {"period": "week", "from": "2000-01-01", "as_of": as_of}
        runs = [timed(base, headers, weekly, "/v1/sla/summary") for _ in range(rounds)]
        add_row(table, "GET /v1/sla/summary?period=week", len(runs[0][1]["buckets"]), runs)
        console.print(table)
        console.print(f"tickets by state: {passes[0][1]}  (load now {os.getloadavg()[0]:.1f})")


def add_row(table: Table, label: str, items: int, runs: list[tuple[float, object]]) -> None:
    times = [seconds * 1000 for seconds, _ in runs]
    low, middle, high = min(times), statistics.median(times), max(times)
    table.add_row(label, f"{items:,}", f"{middle:.0f}", f"{low:.0f}", f"{high:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reuse-database", metavar="URL", help="seeded unless it holds events")
    args = parser.parse_args()
    with chosen_database(args) as url:
        settings = Settings(database_url=url, _env_file=None)
        bootstrap(settings).close()  # creates the tables
        if not count_events(url):
            started = time.perf_counter()
            seed(settings, args.tickets)
            console.print(
                f"seeded {count_events(url):,} events in {time.perf_counter() - started:.0f} s"
            )
        build_read_models(url)
        all_at_once(url)
        measure(url, args.rounds)


if __name__ == "__main__":
    main()
