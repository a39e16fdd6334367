"""What a client can make `crm serve` hold: body and header sizes, the time to send a request,
requests in progress and open connections, all answered with problem+json where an answer can
still be sent; after each, a command is answered at once. Raw sockets, so that the requests
can be as broken as an attacker's."""

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest

from tests.e2e.conftest import Service, serving
from tests.waiting import wait_for

MB = 1024 * 1024
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
KEEP_ALIVE = 1.0
MAX_CONNECTIONS = 100
MAX_CONCURRENCY = 20
PROBLEM = "application/problem+json"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict:
        assert self.headers["content-type"] == PROBLEM, self.headers
        document = json.loads(self.body)
        assert {"type", "title", "status", "detail"} <= document.keys()
        assert document["status"] == self.status
        return document


@pytest.fixture(scope="module")
def bounded(new_database: Callable[[], str]) -> Iterator[Service]:
    """`crm serve` with short timeouts and small caps (sizes keep their defaults)."""
    with serving(
        new_database(),
        header_timeout_seconds=str(HEADER_TIMEOUT),
        body_timeout_seconds=str(BODY_TIMEOUT),
        keep_alive_seconds=str(KEEP_ALIVE),
        max_connections=str(MAX_CONNECTIONS),
        max_concurrency=str(MAX_CONCURRENCY),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def key(bounded: Service) -> str:
    key = bounded.create_key("service")
    # The first command warms the writer up (its imports, its first transaction): on a
    # loaded machine that alone can pass the 2 s the later canaries are held to.
    assert_canary_answered(bounded, key, within=15.0)
    return key


def port(service: Service) -> int:
    return int(service.url.rsplit(":", 1)[1])


def connect(service: Service, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port(service)))
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket) -> Answer | None:
    """One response from `sock`; None if it was closed (or reset) before a whole one came."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        while len(body) < int(headers.get("content-length", 0)):
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
    except ConnectionResetError:
        return None
    return Answer(int(lines[0].split()[1]), headers, body)


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed `sock` within `seconds`, and what it sent before."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        pass
    return True, received


def command(service: Service, key: str, name: str, extra: bytes = b"") -> bytes:
    """A raw POST /v1/customers registering `name`, its body padded with `extra` spaces."""
    body = json.dumps({"name": name}).encode()[:-1] + extra + b"}"
    head = (
        f"POST /v1/customers HTTP/1.1\r\nHost: 127.0.0.1:{port(service)}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def assert_canary_answered(service: Service, key: str, within: float = 2.0) -> None:
    """A command (POST /v1/customers with a service key) is answered 2xx within `within` s."""
    start = time.monotonic()
    with service.client(key) as api:
        answer = api.post("/v1/customers", json={"name": "Canary"}, timeout=within)
    assert answer.status_code == 201, answer.text
    assert time.monotonic() - start < within


def assert_nothing_stored(service: Service, key: str, marker: str) -> None:
    """No customer whose name holds `marker`: checked once a later one is in the read model."""
    later = f"later-{uuid.uuid4().hex}"
    with service.client(key) as api:
        assert api.post("/v1/customers", json={"name": later}).status_code == 201
        wait_for(lambda: api.get("/v1/customers", params={"q": later}).json()["items"] != [])
        assert api.get("/v1/customers", params={"q": marker}).json()["items"] == []


def rss_mb(service: Service) -> float:
    return psutil.Process(service.process.pid).memory_info().rss / MB


class PeakMemory:
    """Samples the server's resident memory every 20 ms while in the `with` block."""

    def __init__(self, service: Service) -> None:
        self.service, self.peak, self.done = service, 0.0, threading.Event()

    def __enter__(self) -> "PeakMemory":
        self.before = rss_mb(self.service)
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.service))

    @property
    def growth(self) -> float:
        return self.peak - self.before


def test_a_body_larger_than_a_megabyte_is_refused_and_nothing_is_stored(bounded, key) -> None:
    marker = f"large-{uuid.uuid4().hex}"
    with connect(bounded) as sock:
        sock.sendall(command(bounded, key, marker, extra=b" " * (2 * MB)))
        answer = read_answer(sock)
        assert answer is not None and answer.status == 413
        assert "1048576 bytes" in answer.problem()["detail"]
        sock.sendall(command(bounded, key, "Same connection"))  # the connection goes on
        answer = read_answer(sock)
        assert answer is not None and answer.status == 201
    assert_canary_answered(bounded, key)
    assert_nothing_stored(bounded, key, marker)


def test_a_chunked_body_is_refused_once_it_passes_a_megabyte(bounded, key) -> None:
    marker = f"chunked-{uuid.uuid4().hex}"
    head = (
        f"POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    first = json.dumps({"name": marker}).encode()[:-1]
    chunk = b" " * 65536
    with PeakMemory(bounded) as memory, connect(bounded) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n" % (len(first), first))
        for _ in range(3 * MB // len(chunk)):  # 3 MB of spaces, then the closing brace
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"1\r\n}\r\n0\r\n\r\n")
        answer = read_answer(sock)
    assert answer is not None and answer.status == 413
    answer.problem()
    assert memory.growth < 20, f"the server grew by {memory.growth:.0f} MB"
    assert_canary_answered(bounded, key)
    assert_nothing_stored(bounded, key, marker)


def test_a_hundred_megabyte_header_is_refused_without_being_held(bounded, key) -> None:
    """Eight connections each start a 100 MB header (the attack that once froze the API)."""
    outcomes: list[tuple[float, Answer | None]] = []

    def attack() -> None:
        start = time.monotonic()
        with connect(bounded, timeout=5) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
                chunk = b"a" * (1024 * 1024)
                for _ in range(100):
                    sock.sendall(chunk)
                    assert time.monotonic() - start < 10, "100 MB of header were accepted"
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused: what it answered is read below
            outcomes.append((time.monotonic() - start, read_answer(sock)))

    with PeakMemory(bounded) as memory:
        attackers = [threading.Thread(target=attack) for _ in range(8)]
        for each in attackers:
            each.start()
        for each in attackers:
            each.join()
    assert len(outcomes) == 8
    for seconds, answer in outcomes:
        assert seconds < 5
        if answer is not None:  # else closed (and reset) before the answer could be read
            assert answer.status == 431
            answer.problem()
    assert any(answer is not None for _, answer in outcomes)
    assert memory.growth < 30, f"the server grew by {memory.growth:.0f} MB"
    assert_canary_answered(bounded, key)


def test_more_than_a_hundred_header_fields_are_refused(bounded, key) -> None:
    fields = b"".join(b"X-Field-%d: %d\r\n" % (n, n) for n in range(101))
    with connect(bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        answer = read_answer(sock)
    assert answer is not None and answer.status == 431
    assert "100 header fields" in answer.problem()["detail"]
    assert_canary_answered(bounded, key)
    with bounded.client() as client:
        metrics = client.get("/metrics").text
    assert 'crm_http_refused_total{reason="header-count"} 1.0' in metrics


def test_slow_headers_are_answered_408_and_closed_after_the_header_timeout(bounded, key) -> None:
    """Slowloris: connections that send a header byte now and then, and one that sends
    nothing; a canary is answered meanwhile and after."""
    slow = [connect(bounded) for _ in range(50)]
    silent = connect(bounded)
    try:
        start = time.monotonic()
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert_canary_answered(bounded, key)
        while time.monotonic() - start < HEADER_TIMEOUT / 2:
            for sock in slow:
                sock.sendall(b"a")
            time.sleep(0.2)
        for sock in slow:
            closed, sent = closed_within(sock, HEADER_TIMEOUT + 1)
            assert closed
            assert sent.startswith(b"HTTP/1.1 408 ") and PROBLEM.encode() in sent
        closed, sent = closed_within(silent, 1)
        assert closed and sent == b""  # it asked nothing: closed without an answer
        assert time.monotonic() - start < HEADER_TIMEOUT + 1
    finally:
        for sock in [*slow, silent]:
            sock.close()
    assert_canary_answered(bounded, key)


def test_a_slow_body_is_answered_408_and_closed_after_the_body_timeout(bounded, key) -> None:
    with connect(bounded) as sock:
        start = time.monotonic()
        sock.sendall(command(bounded, key, "Slow body", extra=b" " * 100)[:-20])
        answer = read_answer(sock)
        elapsed = time.monotonic() - start
        closed, _ = closed_within(sock, 1)
    assert answer is not None and answer.status == 408
    answer.problem()
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + 1.5 and closed
    assert_canary_answered(bounded, key)


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(bounded, key) -> None:
    with connect(bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_answer(sock)
        assert answer is not None and answer.status == 200
        start = time.monotonic()
        closed, sent = closed_within(sock, KEEP_ALIVE + 2)
    assert closed and sent == b"" and time.monotonic() - start < KEEP_ALIVE + 1


def test_requests_over_the_concurrency_bound_are_answered_503_with_retry_after(
    bounded, key
) -> None:
    """Requests whose bodies never end hold the bound; one more is answered 503 at once."""
    holding = [connect(bounded) for _ in range(MAX_CONCURRENCY)]
    try:
        for sock in holding:
            sock.sendall(command(bounded, key, "Held", extra=b" " * 100)[:-20])
        time.sleep(0.3)
        with bounded.client(key) as api:
            busy = api.post("/v1/customers", json={"name": "One too many"}, timeout=2)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.headers["content-type"] == PROBLEM
        assert busy.json()["status"] == 503
        for sock in holding:  # the body timeout ends them
            answer = read_answer(sock)
            assert answer is not None and answer.status == 408
    finally:
        for sock in holding:
            sock.close()
    assert_canary_answered(bounded, key)


def test_half_open_connections_beyond_the_bound_close_the_longest_waiting(bounded, key) -> None:
    """Three times the bound of connections that send half a request line: the server keeps
    at most the bound open, and a client with a whole request is answered at once."""
    half_open = []
    try:
        for _ in range(3 * MAX_CONNECTIONS):
            sock = connect(bounded)
            sock.sendall(b"POST /v1/customers HTTP/1.1\r\n")
            half_open.append(sock)
        assert_canary_answered(bounded, key)
        server = psutil.Process(bounded.process.pid)

        def held() -> int:
            mine = port(bounded)
            return sum(
                1
                for c in server.net_connections("tcp")
                if c.laddr.port == mine and c.status == psutil.CONN_ESTABLISHED
            )

        assert held() <= MAX_CONNECTIONS + 1
    finally:
        for sock in half_open:
            sock.close()
    assert_canary_answered(bounded, key)


def test_a_new_connection_is_refused_503_when_every_connection_has_a_request_in_progress(
    new_database: Callable[[], str],
) -> None:
    with serving(
        new_database(), max_connections="4", max_concurrency="10", body_timeout_seconds="2"
    ) as service:
        key = service.create_key("service")
        assert_canary_answered(service, key, within=10)
        holding = [connect(service) for _ in range(4)]
        try:
            for sock in holding:
                sock.sendall(command(service, key, "Held", extra=b" " * 100)[:-20])
            time.sleep(0.3)
            with connect(service, timeout=2) as sock:
                answer = read_answer(sock)
            assert answer is not None and answer.status == 503
            assert answer.headers["retry-after"] == "1"
            answer.problem()
        finally:
            for sock in holding:
                sock.close()
        time.sleep(0.3)
        assert_canary_answered(service, key)


def test_sigterm_stops_the_service_within_10_seconds_while_clients_hold_connections(
    bounded, key
) -> None:
    """Last in this module: with half-sent requests and half-sent bodies still open, a
    service manager's SIGTERM stops `crm serve` in time."""
    holding = [connect(bounded) for _ in range(20)]
    try:
        for sock in holding[:10]:
            sock.sendall(b"POST /v1/customers HTTP/1.1\r\n")
        for sock in holding[10:]:
            sock.sendall(command(bounded, key, "Held", extra=b" " * 100)[:-20])
        assert_canary_answered(bounded, key)
        started = time.monotonic()
        bounded.process.terminate()
        bounded.process.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        for sock in holding:
            sock.close()
