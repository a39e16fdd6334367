"""The FastAPI application factory: nothing is wired at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from psycopg_pool import ConnectionPool

from api import commanding, problems
from api.auth import SECURITY_SCHEME, KeyCheck
from api.http_limits import BodyLimit
from api.middleware import CorrelationId
from api.routers import (
    access_log,
    audit,
    campaigns,
    churn,
    custom_fields,
    customers,
    deals,
    health,
    keys,
    lead_settings,
    leads,
    pipeline,
    pipeline_stages,
    projections,
    reports,
    segments,
    sla,
    tickets,
    tracking,
)
from api.writer_process import WriterProcess
from commands.registry import COMMAND_HANDLERS
from infra.access_log import AccessLog
from infra.settings import Settings
from projections.churn.models import churn_models

DESCRIPTION = """
Every customer interaction is an immutable event in a PostgreSQL event store; queries read
CQRS read models. Authenticate with `Authorization: Bearer <key>` (`crm keys create --role ROLE`
or `POST /v1/keys`).
Commands accept `Idempotency-Key`, `If-Match: <version>` and `X-Correlation-ID`.
Errors are RFC 9457 `application/problem+json`.
"""

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(pool: ConnectionPool, commands: WriterProcess, settings: Settings) -> FastAPI:
    """An app reading through `pool` and sending commands to `commands`.

    Its lifespan starts and stops the command writer, the access log's writer and the churn
    models' worker, and closes the pool.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await commands.start()
        app.state.access_log.start()
        app.state.churn.start()
        try:
            yield
        finally:
            commands.stop()
            app.state.access_log.stop()  # writes what is queued
            app.state.churn.stop()
            pool.close()

    app = FastAPI(
        title="CRM event store",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,  # metrics are Prometheus (/metrics); saves a check per request
    )
    app.state.pool = pool
    app.state.settings = settings
    app.state.commands = commands
    app.state.access_log = AccessLog(pool)
    app.state.keys = KeyCheck(settings)
    app.state.churn = churn_models(pool, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorrelationId)  # outermost: refusals carry the id too
    problems.install(app)
    app.include_router(customers.router)
    app.include_router(access_log.router)
    app.include_router(tickets.router)
    app.include_router(sla.router)
    app.include_router(deals.router)
    app.include_router(pipeline_stages.router)
    app.include_router(pipeline.router)
    app.include_router(leads.router)
    app.include_router(lead_settings.router)
    app.include_router(segments.router)
    app.include_router(custom_fields.router)
    app.include_router(campaigns.router)
    app.include_router(tracking.router)
    app.include_router(projections.router)
    app.include_router(reports.router)
    app.include_router(churn.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    app.include_router(health.router)
    _document_bearer_keys(app)
    return app


def _document_bearer_keys(app: FastAPI) -> None:
    """Adds the API-key scheme (keys are checked by `api.auth`), the command bodies (parsed by
    `api.commanding.run`) and the problem+json body of errors to the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {})
            components["securitySchemes"] = {"apiKey": SECURITY_SCHEME}
            schemas = components.setdefault("schemas", {})
            schemas |= commanding.body_schemas(COMMAND_HANDLERS)
            schemas["Problem"] = problems.PROBLEM_SCHEMA
            schema["security"] = [{"apiKey": []}]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
