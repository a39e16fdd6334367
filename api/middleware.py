"""Correlation ids: accepted from X-Correlation-ID or generated, returned on every response."""

from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-correlation-id"
MAX_LENGTH = 200


class CorrelationId:
    """Pure ASGI middleware (cheap on the hot path) that sets `request.state.correlation_id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        given_text = given.decode("latin-1").strip()
        request_id = str(uuid4())
        correlation_id = given_text if 0 < len(given_text) <= MAX_LENGTH else request_id
        state = scope.setdefault("state", {})
        state["correlation_id"], state["request_id"] = correlation_id, request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER, correlation_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)
