"""Correlation ids: accepted from X-Correlation-ID or generated, returned on every response."""

import re
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-correlation-id"
MAX_LENGTH = 200
ACCEPTED = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_LENGTH)
"""Visible ASCII only (RFC 9110 field values without spaces or obs-text): such an id is
echoed byte for byte; any other (non-ASCII, spaces, too long) is replaced by a fresh one."""


class CorrelationId:
    """Pure ASGI middleware (cheap on the hot path) that sets `request.state.correlation_id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        request_id = str(uuid4())
        if ACCEPTED.fullmatch(given):
            correlation_id, echoed = given.decode("ascii"), given
        else:
            correlation_id, echoed = request_id, request_id.encode("ascii")
        state = scope.setdefault("state", {})
        state["correlation_id"], state["request_id"] = correlation_id, request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, echoed)]
            await send(message)

        await self.app(scope, receive, send_with_id)
