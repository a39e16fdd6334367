"""The access log never makes a request wait: past its queue's capacity, records are
dropped and counted."""

from datetime import UTC, datetime
from uuid import uuid4

from prometheus_client import REGISTRY

from infra.access_log import AccessLog, AccessRecord


def record() -> AccessRecord:
    return AccessRecord(uuid4(), "shop", "service", "GET /v1/x", "c-1", datetime.now(UTC))


def dropped() -> float:
    found = REGISTRY.get_sample_value("crm_access_records_dropped_total", {"reason": "queue_full"})
    return found or 0.0


def test_a_full_queue_drops_and_counts_records_without_waiting() -> None:
    log = AccessLog(None, capacity=3)  # no writer thread: nothing leaves the queue
    before = dropped()
    for _ in range(5):
        log.record(record())
    assert dropped() - before == 2
