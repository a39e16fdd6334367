"""The HTTP/1.1 protocol of `crm serve`: uvicorn's httptools protocol, bounded.

`crm serve` passes it to uvicorn as `http="api.http_protocol:BoundedHttpTools"` (an import
string, so every worker process imports it). Bounds, from `api.http_limits.process_limits()`:

- request line and headers: at most `max_header_bytes` and `max_headers` fields, else 431. The
  parser (llhttp through httptools) keeps a header being received in memory until it ends, so
  the bytes are counted as they arrive (`data_received`), not only per parsed header: a client
  sending 100 MB of one header makes the server hold at most the bound plus one read (256 KiB);
- the time to send them: `header_timeout_seconds` from the first byte of a request (or from
  the connection, if it sends nothing), else 408 and closed (just closed if nothing was sent);
- the time to send a body: `body_timeout_seconds` from its headers, else 408 and closed; it
  also bounds how long the rest of a body answered early (413, 401) is read and discarded;
- requests in progress: at most `max_concurrency` per process, else 503 with Retry-After (this
  replaces uvicorn's `limit_concurrency`, which answers plain text and counts idle keep-alive
  connections as requests);
- open connections: at most `max_connections` per process. One more closes the connection
  that has waited longest for a request (idle keep-alive, or headers still coming); when every
  connection has a request in progress, the new one is answered 503 and closed. So
  half-open connections can neither pile up nor keep clients with requests out.

On the hot path (a request whose head and body arrive in one read) this adds no timer and a
few attribute updates; timers are armed only when a request is split across reads.
"""

import asyncio
from asyncio import TimerHandle
from typing import Any

import httptools
from prometheus_client import Counter
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from api.http_limits import problem_response, process_limits, too_busy

REFUSED = Counter(
    "crm_http_refused_total",
    "Requests and connections the HTTP server refused or closed to stay within its bounds",
    ["reason"],
)


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that is refused."""


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's `HttpToolsProtocol` within `process_limits()` (see the module)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = process_limits()
        self.limit_concurrency = None  # answered in on_headers_complete, as problem+json
        self.asgi_app = self.app
        self.head_bytes = 0  # bytes received since the last request's headers ended
        self.in_head = False  # a request has begun and its headers have not ended
        self.in_body = False  # a request's headers have ended and its body has not
        self.refusal: tuple[int, str, str] | None = None  # (status, detail, reason)
        self.head_timer: TimerHandle | None = None
        self.body_timer: TimerHandle | None = None
        self.waiting_since: float | None = None  # waiting for a request since (else serving)

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not _close_longest_waiting(
            self.connections
        ):
            self.transport = transport
            REFUSED.labels("connections").inc()
            detail = "too many connections; retry"
            default_headers = self.server_state.default_headers
            transport.write(problem_response(503, detail, default_headers, retry_after=True))
            transport.close()
            return
        super().connection_made(transport)
        self.waiting_since = self.loop.time()
        self.head_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self.head_timed_out
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting_since = None
        self._cancel_head_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if not self.in_body:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            status, detail, reason = self.refusal or (400, "invalid HTTP request", "invalid")
            self.refuse(status, detail, reason)
            return
        if self.in_head:
            if self.head_bytes > self.limits.max_header_bytes:
                self.refuse(431, self._head_too_large(), "header-bytes")
            elif self.head_timer is None:
                self.head_timer = self.loop.call_later(
                    self.limits.header_timeout_seconds, self.head_timed_out
                )
        elif self.in_body and self.body_timer is None:
            self.body_timer = self.loop.call_later(
                self.limits.body_timeout_seconds, self.body_timed_out
            )

    def send_400_response(self, msg: str) -> None:
        self.refuse(400, "invalid HTTP request", "invalid")

    # Parser callbacks

    def on_message_begin(self) -> None:
        self.in_head = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.in_head, self.in_body, self.waiting_since = False, True, None
        self._cancel_head_timer()
        if len(self.headers) > self.limits.max_headers:
            detail = f"more than {self.limits.max_headers} header fields"
            self.refusal = (431, detail, "header-count")
            raise _Refused
        if self.head_bytes > self.limits.max_header_bytes and self._head_size() > (
            self.limits.max_header_bytes
        ):  # the read also held a body (or more requests): count the head alone
            self.refusal = (431, self._head_too_large(), "header-bytes")
            raise _Refused
        self.head_bytes = 0
        busy = len(self.tasks) >= self.limits.max_concurrency
        self.app = too_busy if busy else self.asgi_app
        if busy:
            REFUSED.labels("concurrency").inc()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_body = False
        self._cancel_body_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # kept alive, no pipelined request next
            self.waiting_since = self.loop.time()

    # Timeouts and refusals

    def head_timed_out(self) -> None:
        """The request's line and headers (or any request at all) took too long."""
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.in_head:
            seconds = self.limits.header_timeout_seconds
            self.refuse(408, f"the request headers took longer than {seconds:g} s", "header-time")
        else:
            REFUSED.labels("idle").inc()
            self.transport.close()

    def body_timed_out(self) -> None:
        """The request's body took too long (or the rest of one answered early)."""
        self.body_timer = None
        if self.transport.is_closing():
            return
        REFUSED.labels("body-time").inc()
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the application reads a disconnect, its answer is dropped
            cycle.message_event.set()
            seconds = self.limits.body_timeout_seconds
            detail = f"the request body took longer than {seconds:g} s"
            default_headers = self.server_state.default_headers
            self.transport.write(problem_response(408, detail, default_headers))
        self.transport.close()

    def refuse(self, status: int, detail: str, reason: str) -> None:
        """Answers `status` (unless an earlier response is still being sent) and closes."""
        REFUSED.labels(reason).inc()
        if self.cycle is None or self.cycle.response_complete:
            default_headers = self.server_state.default_headers
            self.transport.write(problem_response(status, detail, default_headers))
        self.transport.close()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _head_too_large(self) -> str:
        return f"the request line and headers are larger than {self.limits.max_header_bytes} bytes"

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _cancel_body_timer(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None


def _close_longest_waiting(connections: set[Any]) -> bool:
    """Closes the connection that has waited longest for a request; False if none waits."""
    longest, since = None, float("inf")
    for each in connections:
        waiting = getattr(each, "waiting_since", None)
        if waiting is not None and waiting < since and not each.transport.is_closing():
            longest, since = each, waiting
    if longest is None:
        return False
    REFUSED.labels("evicted").inc()
    longest.waiting_since = None
    longest.transport.close()
    return True
