"""Liveness, readiness and Prometheus metrics."""

import os
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.policing import PolicedRoute
from api.views.health import Alive, Readiness
from api.writer_process import WriterProcess, WriterUnavailable
from projections import projection, status

router = APIRouter(route_class=PolicedRoute, tags=["operations"])
PUBLIC: dict[str, Any] = {"security": []}
"""OpenAPI: no API key needed (probes and the metrics scraper call these)."""


@router.get("/healthz", response_model=Alive, openapi_extra=PUBLIC)
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    openapi_extra=PUBLIC,
    responses={503: {"model": Readiness, "description": "Not ready: `checks` says which is not"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The database (and the broker, with Kafka) answers, the command writer answers a ping
    through its channel and command bus, no read model has stopped and, with Kafka, the
    relay reports no fault (check `relay`: "ok" or its reason); 503 otherwise."""
    checks = await run_in_threadpool(_store_checks, request)
    checks["command_writer"] = await _writer_check(request.app.state.commands)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


async def _writer_check(writer: WriterProcess) -> str:
    try:
        await writer.ping(timeout=2)
    except (TimeoutError, WriterUnavailable):
        return "not answering"
    return "ok"


def _store_checks(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    checks: dict[str, Any] = {}
    try:
        with request.app.state.pool.connection(timeout=2) as conn:
            checks["projections"] = projection.failures(conn) or "ok"
            if settings.kafka_bootstrap:
                checks["relay"] = status.relay_fault(conn, settings.kafka_topic) or "ok"
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"unavailable: {type(error).__name__}"
    if settings.kafka_bootstrap:
        from kafka.errors import KafkaError  # half a second of CPU: only with a broker

        from infra.kafka import end_offsets

        try:
            end_offsets(settings, timeout_ms=2000)
            checks["broker"] = "ok"
        except KafkaError as error:
            checks["broker"] = f"unavailable: {type(error).__name__}"
    return checks


@router.get(
    "/metrics",
    openapi_extra=PUBLIC,
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics() -> Response:
    """Prometheus metrics of every process of this service (API, command writer, feed)."""
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
