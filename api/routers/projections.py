"""Projection status: how far each read model is behind the event store."""

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from psycopg import Connection
from pydantic import BaseModel

from api import problems
from api.policing import PolicedRoute
from infra import stored_events
from infra.postgres import with_connection
from infra.settings import Settings
from projections import status

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/projections",
    tags=["projections"],
    responses=problems.documented(401, 403, 503),
)


class ProjectionsView(BaseModel):
    """Every projection, and how they are fed (with Kafka, the relay too)."""

    mode: Literal["in-process", "kafka"]
    head: int
    broker: Literal["ok", "unreachable"] | None
    relay: status.RelayStatus | None = None
    items: list[status.ProjectionStatus]


@router.get("", response_model=ProjectionsView)
def projections(request: Request) -> ProjectionsView:
    """Each projection: position applied, lag in events and in seconds, dead letters; with
    Kafka, the relay's position, lag and fault. Lags count stored events, read with the
    relay's and the projections' positions in one snapshot."""
    settings: Settings = request.app.state.settings
    mode: Literal["in-process", "kafka"] = "kafka" if settings.kafka_bootstrap else "in-process"
    broker: Literal["ok", "unreachable"] | None = None
    ends: dict[int, int] = {}
    if mode == "kafka":
        from kafka.errors import KafkaError  # half a second of CPU: only with a broker

        from infra.kafka import end_offsets

        try:
            ends, broker = end_offsets(settings), "ok"
        except KafkaError:
            broker = "unreachable"
    now = datetime.now(UTC)  # after the broker's answer, which may take seconds

    def read(conn: Connection[Any]) -> ProjectionsView:
        with status.snapshot(conn):
            if mode == "in-process":
                return ProjectionsView(
                    mode=mode,
                    head=stored_events.head(conn),
                    broker=broker,
                    items=status.in_process(conn, now),
                )
            return ProjectionsView(
                mode=mode,
                head=stored_events.head(conn),
                broker=broker,
                relay=status.relay_status(conn, settings.kafka_topic, now),
                items=status.through_kafka(conn, settings.kafka_topic, ends, now),
            )

    return with_connection(request.app.state.pool, read)
