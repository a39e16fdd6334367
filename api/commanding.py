"""Running a command from an HTTP request: its context from headers, its answer as JSON.

Command routes (declared in `api.command_routes`) take only the request and path from
FastAPI. Their access rule admits the key (`api.policing`); `run` parses the body and reads
the headers itself: FastAPI's dependency solving and body handling cost a quarter of a command's in-process
time, and commands are the hot path (docs/decisions/0003-command-routes-read-the-request.md).
`openapi` documents what `run` reads, so the OpenAPI document is the same as with FastAPI's
parameters.
"""

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers

from api.policing import caller
from commands.base import Command, parse_uuid
from commands.context import CommandContext, Target
from infra.api_keys import Principal
from infra.postgres import with_connection

IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')
"""A version in `If-Match`: at most 18 digits, so that it fits the 64 bits the writer's
frames and PostgreSQL carry (a longer one is refused, 422, rather than failing later)."""

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

T = TypeVar("T")


def openapi(model: type[Command]) -> dict[str, Any]:
    """OpenAPI of a command route whose body `run` parses as `model`: the body and the headers.

    The body schema is the component named after the model (see `body_schemas`).
    """
    body = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    return COMMAND_HEADERS | {
        "requestBody": {"required": True, "content": {"application/json": body}}
    }


def body_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """OpenAPI component schemas of command bodies and the models inside them."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas |= schema.pop("$defs", {})
        schemas[model.__name__] = schema
    return schemas


def aggregate_id(text: str, kind: str) -> UUID:
    """The id in a path; 404 naming the `kind` of aggregate unless it is a UUID in its
    canonical form (8-4-4-4-12 hex digits, either case: braces, `urn:uuid:` or no hyphens
    name nothing)."""
    found = parse_uuid(text)
    if found is None:
        raise HTTPException(404, f"no {kind} with id {text}")
    return found


def read(request: Request, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs `query(conn, *args, **kwargs)` on a connection of the app's pool."""
    return with_connection(request.app.state.pool, lambda conn: query(conn, *args, **kwargs))


class CommandAccepted(BaseModel):
    """The answer to a command: the aggregate and the version it is now at."""

    id: str
    version: int


async def command_context(request: Request, principal: Principal) -> CommandContext:
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


async def run(
    request: Request,
    model: type[Command],
    target: Callable[[Command], Target],
    located: str | None = None,
    path_fields: Callable[[], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Takes the caller the access policy admitted (`api.policing`: 401, 403), parses the
    body as `model` and the headers (422), finds the `target` of the command (404), hands the
    command to the writer and answers with its outcome and ETag (and Location under
    `located`). `path_fields()`, called once the key is checked (the customer of
    `/customers/{id}/complaints`), are set on the command over the body's."""
    principal = caller(request)
    command = _parsed(model, await request.body(), path_fields() if path_fields else {})
    context = await command_context(request, principal)
    outcome = await request.app.state.commands.execute(target(command), command, context)
    headers = {"ETag": f'"{outcome.version}"'} if outcome.version is not None else {}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    if located and outcome.status == 201:
        headers["Location"] = f"{located}/{outcome.body['id']}"
    return JSONResponse(outcome.body, outcome.status, headers=headers)


def _parsed(model: type[Command], body: bytes, path_fields: dict[str, Any]) -> Command:
    if not body and not any(field.is_required() for field in model.model_fields.values()):
        body = b"{}"  # a command with nothing required may be sent without a body (POST /won)
    try:
        if path_fields:
            given = _json_object(body)
            if given is not None:
                return model.model_validate(given | path_fields)
        return model.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (then validating the raw body says what is wrong)."""
    try:
        given = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return given if isinstance(given, dict) else None


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
