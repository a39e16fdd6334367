"""PostgreSQL crashes under load on the Kafka path: `crm serve` + `crm relay` + `crm project`
on a PostgreSQL instance of the test's own (`tests.own_postgres`, fsync on), crashed with
`pg_ctl stop -m immediate` and started again 10 times while client threads send purchases
(with Idempotency-Keys), interactions (without), tickets and deals, to a real broker.

A crash while a command's commit is being flushed makes it durable with its answer lost:
the command writer must not decide it a second time. A crash just after a projector's
commit (asynchronous) may lose it: the projector must apply its messages again.

Afterwards every command is stored as it was answered: an acknowledged one exactly once,
one whose answer was lost at most once, and every answer names the event it recorded. Once
the load stops, a projection that reports lag 0 equals its rebuild from the event store:
`GET /v1/projections` never shows lag 0 while a projection misses an event the store holds.
"""

import random
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pprint import pformat

import httpx
import psycopg
import pytest

from infra.api_keys import Role, create_key
from infra.stored_events import head, scan
from projections.catalog import PROJECTIONS
from tests.e2e import rebuilds
from tests.e2e.conftest import Service
from tests.e2e.kafka_stack import Consumers, kafka_stack
from tests.own_postgres import OwnPostgres
from tests.waiting import wait_for

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it

CRASHES = 10
CUSTOMERS = 20
SECONDS_BETWEEN_CRASHES = (1.0, 2.0)
SECONDS_DOWN = (0.1, 0.8)
ANSWER_SECONDS = 60
"""How long a client keeps sending a command again with its Idempotency-Key."""
CATCH_UP_SECONDS = 60
"""How long, after the load, every projection has to report lag 0."""


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A running PostgreSQL instance of the test's own, deleted afterwards."""
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Sent:
    """A command and how it was answered: `response` None if it never was (transport
    errors, or 5xx until the client gave up); `retried` counts what it was sent again
    after."""

    kind: str
    event: str
    """The event its success records: the answer's id and version name it."""
    keyed: bool
    response: httpx.Response | None
    retried: Counter = field(default_factory=Counter)
    ref: str = ""
    """What it is known by among the stored events: an order id, a subject, a title, or
    the ticket or deal it changes."""

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def problem(self) -> str:
        if self.response is None or self.acknowledged:
            return ""
        try:
            return str(self.response.json().get("type", ""))
        except ValueError:
            return self.response.text[:100]

    def answered(self) -> tuple[str, int]:
        """The aggregate and version the answer names."""
        body = self.response.json()  # type: ignore[union-attr]
        return body["id"], body["version"]


@dataclass
class Load:
    """The clients' commands as sent and answered; `stop` is set to end the load."""

    sent: list[Sent] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def next(self) -> bool:
        """Whether to send another command."""
        return not self.stop.is_set()

    def of(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]


def _retry_later(response: httpx.Response) -> bool:
    """A careful client sends a command again with its Idempotency-Key after a 5xx, or a
    409 because the first try with this key is still being processed."""
    if response.status_code >= 500:
        return True
    return response.status_code == 409 and response.json()["type"].endswith("in-flight")


def keyed(
    client: httpx.Client, kind: str, event: str, path: str, body: dict, ref: str = ""
) -> Sent:
    """Sends a command with an Idempotency-Key until it is answered (or ANSWER_SECONDS)."""
    key, retried = uuid.uuid4().hex, Counter()
    deadline = time.monotonic() + ANSWER_SECONDS
    while time.monotonic() < deadline:
        try:
            response = client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            retried[type(error).__name__] += 1
        else:
            if not _retry_later(response):
                return Sent(kind, event, True, response, retried, ref)
            retried[response.status_code] += 1
        time.sleep(0.1)
    return Sent(kind, event, True, None, retried, ref)


def once(client: httpx.Client, kind: str, event: str, path: str, body: dict, ref: str) -> Sent:
    """Sends a command once, without an Idempotency-Key."""
    try:
        response = client.post(path, json=body)
    except httpx.TransportError as error:
        return Sent(kind, event, False, None, Counter([type(error).__name__]), ref)
    return Sent(kind, event, False, response, Counter(), ref)


def buyer(api: httpx.Client, customers: list[str], load: Load, name: str) -> None:
    """Purchases, each of a new order, with its Idempotency-Key."""
    n = 0
    while load.next():
        customer, order = random.choice(customers), f"{name}-{n}"
        body = {"order_id": order, "total": "2.50", "currency": "EUR"}
        path = f"/v1/customers/{customer}/purchases"
        load.sent.append(keyed(api, "purchase", "PurchaseRecorded", path, body, order))
        n += 1


def caller(api: httpx.Client, customers: list[str], load: Load, name: str) -> None:
    """Interactions without an Idempotency-Key, each with a subject of its own."""
    n = 0
    while load.next():
        subject = f"{name}-{n}"
        body = {"channel": "call", "direction": "inbound", "subject": subject}
        path = f"/v1/customers/{random.choice(customers)}/interactions"
        sent = once(api, "interaction", "InteractionLogged", path, body, subject)
        load.sent.append(sent)
        if not sent.acknowledged:
            time.sleep(0.1)
        n += 1


TICKET_STEPS = [
    ("reply", "Replied", "replies", {"author": "agent", "body": "Looking into it"}),
    ("status", "StatusChanged", "status", {"status": "pending"}),
    ("reply", "Replied", "replies", {"author": "agent", "body": "Fixed?"}),
    ("status", "StatusChanged", "status", {"status": "solved"}),
    ("status", "StatusChanged", "status", {"status": "closed"}),
]
"""What follows a complaint: (kind, event recorded, path under the ticket, body)."""


def support(api: httpx.Client, customers: list[str], load: Load, name: str) -> None:
    """Complaints, each followed through replies and status changes until closed (each
    command with its Idempotency-Key)."""
    n = 0
    while load.next():
        subject = f"{name}-{n}"
        body = {"subject": subject, "description": "Broken.", "channel": "email"}
        path = f"/v1/customers/{random.choice(customers)}/complaints"
        opened = keyed(api, "complaint", "Opened", path, body, subject)
        load.sent.append(opened)
        n += 1
        if not opened.acknowledged:
            continue
        ticket = opened.answered()[0]
        for kind, event, where, step in TICKET_STEPS:
            if not load.next():
                break
            path = f"/v1/tickets/{ticket}/{where}"
            load.sent.append(keyed(api, kind, event, path, step, ticket))


def sales(api: httpx.Client, customers: list[str], load: Load, name: str) -> None:
    """Deals opened, moved through the default stages and won (each command with its
    Idempotency-Key)."""
    n = 0
    while load.next():
        title = f"{name}-{n}"
        body = {"customer_id": random.choice(customers), "title": title, "amount": "1000.00",
                "currency": "EUR", "stage": "prospecting"}  # fmt: skip
        opened = keyed(api, "deal", "Opened", "/v1/deals", body, title)
        load.sent.append(opened)
        n += 1
        if not opened.acknowledged:
            continue
        deal = opened.answered()[0]
        for stage in ("qualification", "proposal", "negotiation", None):
            if not load.next():
                break
            if stage is None:
                sent = keyed(api, "win", "Won", f"/v1/deals/{deal}/won", {}, deal)
            else:
                path = f"/v1/deals/{deal}/stage"
                sent = keyed(api, "move", "StageMoved", path, {"stage": stage}, deal)
            load.sent.append(sent)


CLIENTS: dict[str, Callable[[httpx.Client, list[str], Load, str], None]] = {
    "buyer-a": buyer,
    "buyer-b": buyer,
    "buyer-c": buyer,
    "caller-a": caller,
    "caller-b": caller,
    "caller-c": caller,
    "support": support,
    "sales": sales,
}
"""The client threads, by name; each names what it sends after itself."""
STEPS = ("reply", "status", "move", "win")
"""The commands that change a ticket or a deal after its opening."""


def client_thread(service: Service, key: str, customers: list[str], load: Load, name: str):
    run = CLIENTS[name]

    def work() -> None:
        try:
            with service.client(key) as api:
                run(api, customers, load, f"{name}-{uuid.uuid4().hex[:6]}")
        except Exception:  # noqa: BLE001 - reported by the test
            load.client_errors.append(f"{name}: {traceback.format_exc()}")

    return threading.Thread(target=work, name=name)


def crash_repeatedly(server: OwnPostgres) -> list[float]:
    """Crashes PostgreSQL CRASHES times and starts it again; returns how long each outage
    lasted, in seconds."""
    outages = []
    for _ in range(CRASHES):
        time.sleep(random.uniform(*SECONDS_BETWEEN_CRASHES))
        crashed = time.monotonic()
        server.crash()
        time.sleep(random.uniform(*SECONDS_DOWN))
        server.start()
        outages.append(round(time.monotonic() - crashed, 1))
    return outages


@dataclass
class Stored:
    """The event store's events: their names and their data, by (aggregate, version)."""

    at: dict[tuple[str, int], str]
    data: dict[tuple[str, int], dict]

    @classmethod
    def read(cls, url: str) -> "Stored":
        """Every stored event, its personal fields opened."""
        with psycopg.connect(url) as conn:
            events = [e for batch in scan(conn, 0, head(conn)) for e in batch]
        at = {(e.stream_id, e.stream_version): e.type.rsplit(".", 1)[-1] for e in events}
        data = {(e.stream_id, e.stream_version): e.data for e in events}
        return cls(at, data)

    def holding(self, ref: str) -> list[tuple[str, int, str]]:
        """The events whose order id, subject or title is `ref`: (aggregate, version, name)."""
        return [
            (*at, self.at[at])
            for at, data in self.data.items()
            if ref in (data.get("order_id"), data.get("subject"), data.get("title"))
        ]

    def count(self, event: str, data: str) -> Counter:
        """How many `event`s were stored, by the value of their field `data`."""
        return Counter(self.data[at].get(data) for at, name in self.at.items() if name == event)


def untruthful(load: Load, stored: Stored) -> list[str]:
    """The commands the event store contradicts the answers of, each described."""
    return _answers(load, stored) + _stored_once(load, stored)


def _fault(sent: Sent, why: str) -> str:
    return (f"{sent.kind} {sent.ref}: {why} (answered {sent.status} {sent.problem},"
            f" sent again after {dict(sent.retried)})")  # fmt: skip


def _answers(load: Load, stored: Stored) -> list[str]:
    """Every valid command succeeds, unless its answer was lost (without a key), and each
    success names the event it recorded."""
    faults = []
    for sent in load.sent:
        if sent.acknowledged:
            named = stored.at.get(sent.answered())
            if named != sent.event:
                why = f"its answer {sent.answered()} names {named}, not {sent.event}"
                faults.append(_fault(sent, f"{why}; stored: {stored.holding(sent.ref)}"))
        elif sent.keyed:
            faults.append(_fault(sent, "refused, though valid and sent with a key"))
        elif sent.status is not None and sent.status < 500:
            faults.append(_fault(sent, "a valid command was refused"))
    return faults


def _stored_once(load: Load, stored: Stored) -> list[str]:
    """Each command sent once (maybe again with its key) is recorded once; one without a
    key whose answer was lost, at most once."""
    orders = stored.count("PurchaseRecorded", "order_id")
    faults = [
        _fault(sent, f"recorded {orders[sent.ref]} times")
        for sent in load.of("purchase")
        if orders[sent.ref] != 1
    ]
    subjects = stored.count("InteractionLogged", "subject")
    faults += [
        _fault(sent, f"logged {subjects[sent.ref]} times")
        for sent in load.of("interaction")
        if subjects[sent.ref] > 1 or (sent.acknowledged and subjects[sent.ref] != 1)
    ]
    opened = stored.count("Opened", "subject") + stored.count("Opened", "title")
    faults += [
        _fault(sent, f"opened {opened[sent.ref]} times")
        for sent in load.of("complaint") + load.of("deal")
        if opened[sent.ref] != 1
    ]
    recorded = Counter((aggregate, event) for (aggregate, _), event in stored.at.items())
    changes = Counter((s.ref, s.event) for s in load.sent if s.kind in STEPS)
    faults += [
        f"{aggregate}: {count} {event} sent once each, {recorded[(aggregate, event)]} recorded"
        for (aggregate, event), count in changes.items()
        if recorded[(aggregate, event)] != count
    ]
    return faults


def catch_up(url: str, analyst: httpx.Client, seconds: float) -> tuple[dict, dict]:
    """Polls GET /v1/projections until every projection reports lag 0, comparing each one
    reported at lag 0 with its rebuild from the event store. Returns the projections that
    differed from their rebuild while reporting lag 0 (with their status and the rows that
    differed), and those never found equal to it at the last head (with their last lag)."""
    lies: dict[str, dict] = {}
    equal: dict[str, int] = {}  # projection: the head at which it equalled its rebuild
    lags: dict[str, int | None] = dict.fromkeys(PROJECTIONS)
    head = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            answer = analyst.get("/v1/projections")
        except httpx.TransportError:
            answer = None
        if answer is None or answer.status_code != 200:
            time.sleep(0.5)
            continue
        status = answer.json()
        head = status["head"]
        lags |= {p["name"]: p["lag_events"] for p in status["items"]}
        unchecked = [
            p for p in status["items"] if p["name"] not in lies and equal.get(p["name"]) != head
        ]
        found = rebuilds.at_lag_zero(url, dict(status, items=unchecked))
        if found is None:  # events were stored meanwhile: the comparisons prove nothing
            time.sleep(0.5)
            continue
        for item in unchecked:
            if found.get(item["name"]):
                lies[item["name"]] = {"rows differing": found[item["name"]], "status": item}
            elif item["name"] in found:
                equal[item["name"]] = head
        if all(equal.get(name) == head for name in set(PROJECTIONS) - set(lies)):
            break
        time.sleep(0.5)
    pending = {n: lag for n, lag in lags.items() if n not in lies and equal.get(n) != head}
    return lies, pending


def caught_up(analyst: httpx.Client) -> bool:
    """Whether every projection reports lag 0."""
    items = analyst.get("/v1/projections").json()["items"]
    return len(items) == len(PROJECTIONS) and all(p["lag_events"] == 0 for p in items)


def keys(url: str, role: Role) -> str:
    """A new API key (made here: `crm keys create` takes seconds to start)."""
    with psycopg.connect(url) as conn:
        return create_key(conn, role)[0]


def warnings_of(consumers: Consumers, name: str) -> Counter:
    """The warnings and errors a consumer process logged, by event (what it says of itself
    when a test fails)."""
    return Counter(
        e.get("event", "")[:80]
        for e in consumers.log(name)
        if e.get("level") in ("warning", "error") and "Task <kafka" not in e.get("event", "")
    )


def test_ten_postgres_crashes_under_mixed_load_lose_and_double_nothing(
    own_postgres: OwnPostgres, kafka_bootstrap: str, tmp_path
) -> None:
    url = own_postgres.create_database("crm")
    with kafka_stack(url, kafka_bootstrap, tmp_path) as (service, consumers):
        service_key, analyst_key = keys(url, Role.SERVICE), keys(url, Role.ANALYST)
        with service.client(service_key) as api:
            registered = [
                keyed(api, "register", "Registered", "/v1/customers", {"name": f"C{n}"})
                for n in range(CUSTOMERS)
            ]
        assert all(r.acknowledged for r in registered), [(r.status, r.problem) for r in registered]
        customers = [r.answered()[0] for r in registered]
        with service.client(analyst_key) as analyst:  # relay and projectors are running
            wait_for(lambda: caught_up(analyst), seconds=60)
        # Given clients sending every kind of command
        load = Load()
        clients = [client_thread(service, service_key, customers, load, n) for n in CLIENTS]
        started = time.monotonic()
        for client in clients:
            client.start()
        # When PostgreSQL crashes 10 times and starts again meanwhile
        try:
            outages = crash_repeatedly(own_postgres)
            time.sleep(2)  # commands on every partition after the last crash
        finally:
            load.stop.set()
            for client in clients:
                client.join(timeout=ANSWER_SECONDS + 30)
        loaded = time.monotonic() - started
        alive = {name: p.poll() is None for name, p in consumers.processes.items()}
        alive["serve"] = service.process.poll() is None
        faults = untruthful(load, Stored.read(url))
        # And the projections catch up, compared with their rebuilds whenever at lag 0
        with service.client(analyst_key) as analyst:
            lies, pending = catch_up(url, analyst, CATCH_UP_SECONDS)
        logged = {name: warnings_of(consumers, name) for name in consumers.processes}
    summary = (
        f"{len(load.sent)} commands in {loaded:.0f} s, outages of {outages} s;"
        f" answers {dict(Counter((s.kind, s.status) for s in load.sent))}"
    )
    # Then every command is stored as it was answered, exactly once; no projection reported
    # lag 0 while it differed from the event store, and each caught up; nothing failed
    assert len(load.of("purchase")) > 50 and len(load.of("interaction")) > 50, summary
    problems = {
        "clients failed": load.client_errors,
        "clients never done": [c.name for c in clients if c.is_alive()],
        "processes gone": [name for name, up in alive.items() if not up],
        "commands not stored as answered": faults[:30],
        "projections at lag 0 unlike their rebuild": lies,
        "projections never at lag 0 and equal to their rebuild": pending,
    }
    found = {k: v for k, v in problems.items() if v}
    assert not found, (
        f"{pformat(found, width=100)}\n{summary}\n{len(faults)} commands not stored as answered;"
        f" warnings logged: {pformat(logged, width=100)}"
    )
