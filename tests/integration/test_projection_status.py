"""The Kafka status against real PostgreSQL: a projection's lag counts the events the store
holds that it has not applied, whatever its consumed offsets say, and the relay's position
and fault are shown.

No broker: the relay's and the projector's rows are written as they would have left them.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import Connection

from api.bootstrap import Container
from infra import stored_events
from infra.kafka import partition_for
from projections import status
from projections.catalog import CUSTOMER_360
from tests.integration.conftest import crm_on, register
from tests.integration.kafka_helpers import buy

TOPIC = "crm.events.status-test"
PARTITIONS = 4


@pytest.fixture(scope="module")
def crm(new_database: Callable[[], str]) -> Iterator[Container]:
    """A database of the module's own, holding 12 customers' 24 events."""
    with crm_on(new_database()) as built:
        for n in range(12):
            buy(built, register(built.bus, name=f"Status {n}"), f"status-{n}")
        yield built


@pytest.fixture
def conn(crm: Container) -> Iterator[Connection]:
    with psycopg.connect(crm.url, autocommit=True) as connection:
        connection.execute("DELETE FROM crm_relay")
        connection.execute("DELETE FROM crm_projection_offsets")
        yield connection


def by_partition(conn: Connection) -> dict[int, list[int]]:
    """The stored events' positions on each partition, as the relay sends them."""
    sent: dict[int, list[int]] = defaultdict(list)
    for batch in stored_events.scan(conn, 0, stored_events.head(conn)):
        for event in batch:
            key = (event.customer_id or event.stream_id).encode()
            sent[partition_for(key, PARTITIONS)].append(event.position)
    return dict(sent)  # the partitions that were sent events


def relayed(conn: Connection, sent: dict[int, list[int]], position: int, **row: object) -> None:
    """The relay's row after it had every event up to `position` acknowledged."""
    chain = [
        max((e for e in sent.get(p, ()) if e <= position), default=0) for p in range(PARTITIONS)
    ]
    conn.execute(
        "INSERT INTO crm_relay (topic, position, partition_positions, generation, fault,"
        " checked_at) VALUES (%s, %s, %s, %s, %s, now())",
        (TOPIC, position, chain, row.get("generation", 0), row.get("fault")),
    )


def consumed(conn: Connection, sent: dict[int, list[int]], applied: dict[int, int]) -> None:
    """customer_360's offsets: every message of each partition consumed, its events applied
    up to `applied[p]`."""
    for p, positions in sent.items():
        conn.execute(
            "INSERT INTO crm_projection_offsets"
            " (projection, topic, partition, next_offset, position) VALUES (%s, %s, %s, %s, %s)",
            (CUSTOMER_360.name, TOPIC, p, len(positions), applied[p]),
        )


def customer_360(conn: Connection) -> status.ProjectionStatus:
    with status.snapshot(conn):
        found = status.through_kafka(conn, TOPIC, {}, datetime.now(UTC))
    return next(item for item in found if item.name == CUSTOMER_360.name)


def test_a_projection_that_applied_everything_has_no_lag(conn: Connection) -> None:
    sent = by_partition(conn)
    relayed(conn, sent, stored_events.head(conn))
    consumed(conn, sent, {p: positions[-1] for p, positions in sent.items()})
    item = customer_360(conn)
    assert (item.lag_events, item.lag_seconds) == (0, 0.0)
    assert item.position == stored_events.head(conn)


def test_a_stalled_partition_shows_lag_though_its_offsets_are_consumed(
    conn: Connection,
) -> None:
    # Given every message consumed, but one partition's events applied only up to its first
    sent = by_partition(conn)
    stalled = max(sent, key=lambda p: len(sent[p]))
    relayed(conn, sent, stored_events.head(conn))
    consumed(conn, sent, {p: positions[-1] for p, positions in sent.items()} | {stalled: 0})
    # When the status is read
    item = customer_360(conn)
    # Then every event of that partition counts, and the seconds since the first of them
    assert item.lag_events >= len(sent[stalled]) > 0
    assert item.lag_seconds > 0
    shown = next(p for p in item.partitions or [] if p.partition == stalled)
    assert (shown.next_offset, shown.position, shown.published) == (
        len(sent[stalled]),
        0,
        sent[stalled][-1],
    )


def test_a_partition_never_consumed_lags_though_the_broker_shows_nothing(
    conn: Connection,
) -> None:
    sent = by_partition(conn)
    unread = max(sent, key=lambda p: len(sent[p]))
    relayed(conn, sent, stored_events.head(conn))
    consumed(conn, {p: e for p, e in sent.items() if p != unread}, defaultdict(int))
    assert customer_360(conn).lag_events == sum(map(len, sent.values()))


def test_events_the_relay_has_not_published_are_lag_of_the_relay_and_the_projections(
    conn: Connection,
) -> None:
    # Given a relay that had 10 events acknowledged, then could not publish
    sent = by_partition(conn)
    unpublished = sum(e > 10 for positions in sent.values() for e in positions)
    relayed(conn, sent, 10, fault="broker unavailable: KafkaTimeoutError", generation=2)
    consumed(conn, sent, {p: max((e for e in sent[p] if e <= 10), default=0) for p in sent})
    # When the status is read
    relay = status.relay_status(conn, TOPIC, datetime.now(UTC))
    item = customer_360(conn)
    # Then the relay shows its position, lag and fault, and the projection the same lag
    assert (relay.position, relay.generation, relay.lag_events) == (10, 2, unpublished)
    assert relay.fault == "broker unavailable: KafkaTimeoutError"
    assert relay.lag_seconds > 0
    assert relay.checked_seconds_ago is not None and 0 <= relay.checked_seconds_ago < 60
    assert item.lag_events == unpublished
    assert status.relay_fault(conn, TOPIC) == relay.fault


def test_a_relay_that_never_ran_is_at_position_0_without_fault(conn: Connection) -> None:
    relay = status.relay_status(conn, TOPIC, datetime.now(UTC))
    stored = sum(map(len, by_partition(conn).values()))
    assert (relay.position, relay.generation, relay.lag_events, relay.fault) == (0, 0, stored, None)
    assert relay.checked_seconds_ago is None
    assert customer_360(conn).lag_events == stored


def test_the_status_reads_one_snapshot(crm: Container, conn: Connection) -> None:
    sent = by_partition(conn)
    relayed(conn, sent, 10)
    with crm.pool.connection() as reader, status.snapshot(reader):
        before = status.relay_status(reader, TOPIC, datetime.now(UTC))
        conn.execute("UPDATE crm_relay SET position = 12, fault = 'later'")
        after = status.relay_status(reader, TOPIC, datetime.now(UTC))
    assert (after.position, after.fault) == (before.position, before.fault) == (10, None)
