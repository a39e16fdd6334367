"""Running a command from an HTTP request: its context from headers, its answer as JSON."""

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import Headers

from api.auth import Service
from commands.base import Command
from commands.context import CommandContext, Target

IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')

COMMAND_HEADERS = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "Same key and body: the first answer again. Another body: 422. "
            "Still in flight: 409.",
        },
        {
            "name": "If-Match",
            "in": "header",
            "schema": {"type": "string", "pattern": IF_MATCH.pattern, "examples": ['"3"']},
            "description": "The aggregate version this command expects; otherwise 412.",
        },
        {
            "name": "X-Correlation-ID",
            "in": "header",
            "schema": {"type": "string", "maxLength": 200},
            "description": "Stored on every event the command causes; returned.",
        },
        {
            "name": "X-Causation-ID",
            "in": "header",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": "What caused this command (defaults to the request's own id).",
        },
    ]
}
"""OpenAPI text for the headers every command reads (parsed by `command_context`)."""


class CommandAccepted(BaseModel):
    """The answer to a command: the aggregate and the version it is now at."""

    id: str
    version: int


async def command_context(request: Request, principal: Service) -> CommandContext:
    """Who, why and under which conditions, from the request's key and headers."""
    headers = request.headers
    idempotency_key = _header(headers, "Idempotency-Key", 255)
    return CommandContext(
        actor=principal.name,
        correlation_id=request.state.correlation_id,
        causation_id=_header(headers, "X-Causation-ID", 200) or request.state.request_id,
        received_at=datetime.now(UTC),
        idempotency_key=idempotency_key,
        request_hash=await _request_hash(request) if idempotency_key else None,
        expected_version=_expected_version(headers.get("if-match")),
    )


Context = Annotated[CommandContext, Depends(command_context)]


async def run(
    request: Request,
    context: CommandContext,
    target: Target,
    command: Command,
    located: str | None = None,
) -> JSONResponse:
    """Hands the command to the bus and answers with its outcome, ETag (and Location under `located`)."""
    outcome = await request.app.state.commands.execute(target, command, context)
    headers = {"ETag": f'"{outcome.version}"'} if outcome.version is not None else {}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    if located and outcome.status == 201:
        headers["Location"] = f"{located}/{outcome.body['id']}"
    return JSONResponse(outcome.body, outcome.status, headers=headers)


async def _request_hash(request: Request) -> str:
    body = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(
        request.method.encode() + request.url.path.encode() + canonical
    ).hexdigest()


def _header(headers: Headers, name: str, max_length: int) -> str | None:
    value = headers.get(name)
    if value is not None and not 0 < len(value) <= max_length:
        raise _invalid_header(name, f"must be 1 to {max_length} characters")
    return value


def _invalid_header(name: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("header", name), "msg": message, "type": "value_error"}]
    )


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    found = IF_MATCH.match(if_match)
    if not found:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "If-Match"),
                    "msg": "must be a version number",
                    "type": "value_error",
                }
            ]
        )
    return int(found.group(1))
