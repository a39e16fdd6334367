"""What a client can make the API hold: the bounds `crm serve` enforces, and their answers.

The request line and headers, the number of headers, the time to send them, the time to
send a body, the requests in progress and the open connections are bounded by the HTTP
protocol (`api.http_protocol`), before any application code runs. The body size is bounded
here, by `BodyLimit`, in the application: a declared Content-Length over the bound is refused
before the body is read, and a body without one (chunked) is counted as the application reads
it, so no more than the bound (plus one read of at most 64 KiB) is ever held.

Every refusal is an RFC 9457 problem+json answer when an answer can still be sent.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import orjson
from fastapi import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.settings import Settings

MEDIA_TYPE = b"application/problem+json"
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Limits:
    """The bounds of one API process (settings `CRM_MAX_*` and `CRM_*_TIMEOUT_SECONDS`)."""

    max_body_bytes: int
    max_header_bytes: int
    max_headers: int
    header_timeout_seconds: float
    body_timeout_seconds: float
    max_concurrency: int
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout_seconds=settings.header_timeout_seconds,
            body_timeout_seconds=settings.body_timeout_seconds,
            max_concurrency=settings.max_concurrency,
            max_connections=settings.max_connections,
        )


@functools.cache
def process_limits() -> Limits:
    """This process's bounds, read from the environment once."""
    return Limits.of(Settings())


def problem_body(status: int, detail: str) -> bytes:
    """The problem+json document of a refusal (`type` about:blank: the status says it all)."""
    title = HTTPStatus(status).phrase
    return orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})


def problem_response(
    status: int,
    detail: str,
    default_headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    retry_after: bool = False,
) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, for the protocol to
    write when no application runs (headers refused, timeouts, too many connections)."""
    body = problem_body(status, detail)
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head.append(b"content-type: " + MEDIA_TYPE + b"\r\n")
    head.append(b"content-length: %d\r\n" % len(body))
    if retry_after:
        head.append(b"retry-after: %d\r\n" % RETRY_AFTER_SECONDS)
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + body


async def send_problem(
    send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answers an ASGI request with a problem+json document."""
    body = problem_body(status, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def too_busy(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI answer when this process already has its most requests in progress."""
    detail = "too many requests in progress; retry"
    await send_problem(send, 503, detail, [(b"retry-after", b"%d" % RETRY_AFTER_SECONDS)])


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body without a Content-Length passes the bound; the
    problem handlers answer it with 413 like any HTTPException."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyLimit:
    """Pure ASGI middleware: refuses bodies over `max_bytes` with 413 problem+json.

    A Content-Length over the bound is answered at once, unread (the server discards the body
    as it arrives, for at most the body timeout). A Content-Length within the bound needs no
    more: the HTTP parser ends the body there. Without one (chunked), `receive` counts what the
    application reads and raises `BodyTooLarge` past the bound; a route that refuses a request
    before reading its body (no key, unknown route) never reads it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                if int(value) > self.max_bytes:
                    detail = f"the request body is larger than {self.max_bytes} bytes"
                    await send_problem(send, 413, detail)
                    return
                break
        else:
            receive = self._counted(receive)
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            pass  # the client went away (or was timed out) mid-body: nothing to answer

    def _counted(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        return counted
