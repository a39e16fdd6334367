"""The one place that turns errors into RFC 9457 problem+json responses."""

import re
from http import HTTPStatus
from typing import Any

import structlog
from eventsourcing.persistence import OperationalError, PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from commands.errors import (
    AggregateNotFound,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    VersionMismatch,
)
from commands.wire import OutcomeUnknown, WriterUnavailable
from domain.errors import CrmError, CustomerErased, InvalidValue

log = structlog.get_logger()

MEDIA_TYPE = "application/problem+json"

STATUS_OF: dict[type[CrmError], int] = {
    AggregateNotFound: 404,
    VersionMismatch: 412,
    IdempotencyKeyReused: 422,
    IdempotencyKeyInFlight: 409,
    CustomerErased: 410,
}
"""Refusals other than domain-rule conflicts (409)."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/validation"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For validation problems: each field at fault.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "rule": {"type": "string", "description": "For refusals: the rule, as in `type`."},
    },
}
"""The RFC 9457 body of every error (OpenAPI component `Problem`)."""

_MEANINGS = {
    401: "No API key, or an unknown one",
    403: "The key's role may not do this",
    404: "Not found: an unknown aggregate (or segment)",
    409: "A domain rule refused the command (`type` names it), or its Idempotency-Key is in flight",
    410: "The customer is erased (`/problems/customer-erased`): nothing more about them",
    412: "If-Match differs from the aggregate's version; nothing recorded",
    422: "Invalid input (`errors` names each field), or an Idempotency-Key reused with another body",
    429: "The key's rate limit is reached, or too many bad keys came from this address;"
    " retry after Retry-After",
    503: "The database or command writer is unavailable; retry (Retry-After)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, as problem+json; a route that checks keys
    (401) may also answer 429."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {"description": _MEANINGS[status], "content": {MEDIA_TYPE: ref}}
        for status in (*statuses, *((429,) if 401 in statuses else ()))
    }


def problem(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body = {"type": type_, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return JSONResponse(body | extra, status, headers=headers, media_type=MEDIA_TYPE)


def _field(loc: tuple[Any, ...]) -> str:
    """`('body', 'items', 0, 'sku')` -> `items.0.sku`; query and header names keep their source."""
    parts = list(loc[1:] if loc and loc[0] == "body" and len(loc) > 1 else loc)
    return ".".join(str(p) for p in parts)


def allowed_methods(app: FastAPI, path: str) -> str:
    """The methods the OpenAPI document gives the path (`Allow` of a 405)."""
    if not hasattr(app.state, "path_methods"):
        app.state.path_methods = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"), ops)
            for template, ops in app.openapi()["paths"].items()
        ]
    methods = {m.upper() for rule, ops in app.state.path_methods if rule.match(path) for m in ops}
    return ", ".join(sorted(methods & HTTP_METHODS))


HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}


def install(app: FastAPI) -> None:
    """Registers the error handlers on an app."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in error.errors()]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem(
            422, f"invalid request: {fields}", type_="/problems/validation", errors=errors
        )

    @app.exception_handler(CrmError)
    async def refused(_: Request, error: CrmError) -> JSONResponse:
        if isinstance(error, InvalidValue):
            errors = [{"field": error.field, "message": error.detail}]
            detail = f"invalid request: {error.field}"
            return problem(422, detail, type_=f"/problems/{error.rule}", errors=errors)
        status = STATUS_OF.get(type(error), 409)
        return problem(status, error.detail, type_=f"/problems/{error.rule}", rule=error.rule)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:  # Allow: every method of the path, not one route's
            headers["Allow"] = allowed_methods(app, request.url.path)
        return problem(error.status_code, str(error.detail), headers=headers)

    @app.exception_handler(WriterUnavailable)
    @app.exception_handler(PersistenceError)
    @app.exception_handler(PsycopgOperationalError)
    @app.exception_handler(PoolTimeout)
    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable", error=type(error).__name__)  # messages may hold values
        retry = {"Retry-After": "1"}
        if isinstance(error, PersistenceError) and not isinstance(error, OperationalError):
            return problem(500, "the event store refused the write", type_="/problems/storage")
        if isinstance(error, OutcomeUnknown):  # its message is ours: no request's values
            return problem(503, str(error), headers=retry)
        return problem(503, "the database is unavailable; retry", headers=retry)

    @app.exception_handler(Exception)
    async def crashed(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", error=type(error).__name__)
        return problem(500, "internal error", type_="/problems/internal")
