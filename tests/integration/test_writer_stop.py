"""Stopping the command writer process: the commands it was sent are recorded before it
exits; a writer sent none has nothing to finish and is ended at once, not killed."""

import asyncio
import signal
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg

from api.bootstrap import Container
from api.writer_process import WriterProcess, WriterUnavailable
from commands.context import CommandContext, Target
from commands.customers import RegisterCustomer
from infra.event_store import EVENTS_TABLE
from infra.settings import Settings


def writer(url: str) -> WriterProcess:
    return WriterProcess(
        Settings(database_url=url, log_level="WARNING", command_timeout_seconds=60, _env_file=None)
    )


def context() -> CommandContext:
    return CommandContext(actor="test", correlation_id=str(uuid4()), received_at=datetime.now(UTC))


def recorded(url: str, ids: list[UUID]) -> int:
    with psycopg.connect(url) as conn:
        (count,) = conn.execute(
            f"SELECT count(DISTINCT originator_id) FROM {EVENTS_TABLE}"
            " WHERE originator_id = ANY(%s)",
            (ids,),
        ).fetchone()  # type: ignore[misc]
    return int(count)


def test_commands_sent_before_stop_are_all_recorded(
    container: Container, database_url: str
) -> None:
    ids = [uuid4() for _ in range(20)]

    async def run() -> list[Any]:
        stopping = writer(database_url)
        await stopping.start()
        await stopping.execute(Target(uuid4(), creates=True), RegisterCustomer(name="A"), context())
        # Given 20 commands on their way to the writer, none answered yet
        sent = [
            asyncio.ensure_future(
                stopping.execute(Target(each, creates=True), RegisterCustomer(name="B"), context())
            )
            for each in ids
        ]
        await asyncio.sleep(0)
        # When the writer is stopped
        stopping.stop()
        return await asyncio.gather(*sent, return_exceptions=True)

    answers = asyncio.run(run())
    # Then each caller has its answer or is told to retry, and every command was recorded
    assert all(isinstance(each, WriterUnavailable) or each.status == 201 for each in answers), (
        answers
    )
    assert recorded(database_url, ids) == len(ids)


def test_a_writer_sent_no_command_is_terminated_not_killed(
    container: Container, database_url: str
) -> None:
    async def run() -> int | None:
        idle = writer(database_url)
        await idle.start()
        idle.stop()  # still starting: it would read Stop only once it is up
        return idle._process.exitcode  # type: ignore[union-attr]

    assert asyncio.run(run()) == -signal.SIGTERM
