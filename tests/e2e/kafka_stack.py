"""The production path for e2e tests: `crm serve`, `crm relay` and `crm project` processes on
the test broker, each consumer logging to a file of its own."""

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import KAFKA_TEST_FETCH_WAIT_MS, KAFKA_TEST_TIMEOUT_MS
from tests.e2e.conftest import CRM, Service, crm_env, free_port, start_service


def kafka_env(database_url: str, bootstrap: str) -> dict[str, str]:
    return crm_env(
        database_url=database_url,
        port=str(free_port()),
        kafka_bootstrap=bootstrap,
        kafka_topic=f"crm.events.e2e-{uuid.uuid4().hex[:10]}",
        kafka_partitions="4",
        kafka_max_poll_interval_ms=str(KAFKA_TEST_TIMEOUT_MS),
        kafka_session_timeout_ms=str(KAFKA_TEST_TIMEOUT_MS),
        kafka_fetch_max_wait_ms=str(KAFKA_TEST_FETCH_WAIT_MS),
    )


class Consumers:
    """`crm relay` and `crm project` processes, each logging to a file of its own."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env, self._logs = env, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *command: str) -> None:
        with (self._logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [CRM, *command], env=self._env, stdout=log, stderr=log
            )

    def kill(self, name: str) -> None:
        """kill -9."""
        self.processes[name].kill()
        self.processes[name].wait(timeout=10)

    def log(self, name: str) -> list[dict]:
        lines = (self._logs / f"{name}.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def kafka_stack(
    database_url: str, bootstrap: str, logs: Path, output: list[str] | None = None
) -> Iterator[tuple[Service, Consumers]]:
    """The API, one relay and one projector on the Kafka path (the API's output kept in
    `output` if given)."""
    env = kafka_env(database_url, bootstrap)
    service = start_service(env, output)
    consumers = Consumers(env, logs)
    try:
        consumers.start("relay", "relay")
        consumers.start("project", "project")
        yield service, consumers
    finally:
        consumers.stop()
        service.stop()
