"""Running a command from an HTTP request: its context from headers, its answer as JSON."""

import asyncio
import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import Service
from commands.base import Command
from commands.context import CommandContext, Target

IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


class CommandAccepted(BaseModel):
    """The answer to a command: the aggregate and the version it is now at."""

    id: str
    version: int


async def command_context(
    request: Request,
    principal: Service,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    if_match: Annotated[str | None, Header()] = None,
    x_causation_id: Annotated[str | None, Header(max_length=200)] = None,
) -> CommandContext:
    """Who, why and under which conditions, from the request's key and headers."""
    return CommandContext(
        actor=principal.name,
        correlation_id=request.state.correlation_id,
        causation_id=x_causation_id or request.state.request_id,
        received_at=datetime.now(UTC),
        idempotency_key=idempotency_key,
        request_hash=await _request_hash(request) if idempotency_key else None,
        expected_version=_expected_version(if_match),
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
    future = request.app.state.commands.submit(target, command, context)
    outcome = await asyncio.wrap_future(future)
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
