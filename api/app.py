"""The FastAPI application factory: nothing is wired at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.auth import KeyCache
from api.middleware import CorrelationId
from api.routers import customers, health
from infra.bootstrap import Container

DESCRIPTION = """
Every customer interaction is an immutable event in a PostgreSQL event store; queries read
CQRS read models. Authenticate with `Authorization: Bearer <key>` (`crm keys create --role ROLE`).
Commands accept `Idempotency-Key`, `If-Match: <version>` and `X-Correlation-ID`.
Errors are RFC 9457 `application/problem+json`.
"""


def create_app(container: Container) -> FastAPI:
    """An app serving `container`; its lifespan starts and stops the writer and feeds."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        container.start()
        try:
            yield
        finally:
            container.close()

    app = FastAPI(
        title="CRM event store", version="0.1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.container = container
    app.state.keys = KeyCache()
    app.add_middleware(CorrelationId)
    problems.install(app)
    app.include_router(customers.router)
    app.include_router(health.router)
    return app
