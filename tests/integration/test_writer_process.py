"""The command writer process and its channel, on a real database: a desynchronised or
oversized message fails only the commands in flight, and the next command is answered."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from api.bootstrap import Container
from api.writer_process import CommandFailed, WriterProcess, WriterUnavailable
from commands import wire
from commands.channel import TAG_BYTES
from commands.context import CommandContext, Outcome, Target
from commands.customers import RegisterCustomer
from infra.settings import Settings

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it


def context() -> CommandContext:
    return CommandContext(actor="test", correlation_id=str(uuid4()), received_at=datetime.now(UTC))


def with_writer(url: str, test: Callable[[WriterProcess], Awaitable[None]]) -> None:
    """Runs `test` on an event loop with a started writer process, then stops it."""

    async def run() -> None:
        writer = WriterProcess(
            Settings(
                database_url=url, log_level="WARNING", command_timeout_seconds=10, _env_file=None
            )
        )
        await writer.start()
        try:
            await test(writer)
        finally:
            writer.stop()

    asyncio.run(run())


async def register(writer: WriterProcess, name: str = "Ada") -> Outcome:
    return await writer.execute(
        Target(uuid4(), creates=True), RegisterCustomer(name=name), context()
    )


def test_a_forged_frame_restarts_the_writer_and_is_never_run(
    container: Container, database_url: str
) -> None:
    injected = str(uuid4())
    message = wire.command_message(
        10**9, Target(uuid4(), creates=True), RegisterCustomer(name=injected), context()
    )
    payload = wire.payload([message])
    forged = len(payload + bytes(TAG_BYTES)).to_bytes(4, "big") + payload + bytes(TAG_BYTES)

    async def test(writer: WriterProcess) -> None:
        # Given a writer that answers, and a command in flight
        assert (await register(writer)).status == 201
        in_flight = asyncio.ensure_future(register(writer, "In flight"))
        await asyncio.sleep(0)  # its frame is on its way
        # When a well-formed command without the channel's tag reaches the writer (bytes
        # of a client's request where a frame should start)
        writer._transport.write(forged)  # type: ignore[union-attr]
        # Then the command in flight is answered or fails (503), never anything else
        with contextlib.suppress(WriterUnavailable):
            assert (await in_flight).status == 201
        # And a new writer answers the next command
        await answered_again(writer)

    with_writer(database_url, test)
    # And the forged command was never run
    with container.pool.connection() as conn:
        (found,) = conn.execute(
            "SELECT count(*) FROM crm_events WHERE position(%s::bytea in state) > 0",
            (injected.encode(),),
        ).fetchone()
    assert found == 0


async def answered_again(writer: WriterProcess) -> None:
    """Waits (at most 10 s) until the writer, or its successor, answers a command."""
    for _ in range(100):
        try:
            assert (await register(writer, "After")).status == 201
            return
        except WriterUnavailable:
            await asyncio.sleep(0.1)
    pytest.fail("no writer answered after the forged frame")


def test_a_2_mb_command_crosses_whole_and_the_next_is_answered(
    container: Container, database_url: str
) -> None:
    async def test(writer: WriterProcess) -> None:
        # Given a command of 2 MB that skipped the API's validation (its limits would refuse it)
        huge = RegisterCustomer.model_construct(
            name="Ada", custom_fields={"notes": "x" * 2_000_000}, occurred_at=None
        )
        # When it is sent with a small one behind it
        answers = await asyncio.gather(
            writer.execute(Target(uuid4(), creates=True), huge, context()),
            register(writer, "Behind"),
            return_exceptions=True,
        )
        # Then the writer read it whole (validated it again, and answered), and the next too
        assert isinstance(answers[0], CommandFailed | Outcome), answers[0]
        assert isinstance(answers[1], Outcome) and answers[1].status == 201
        assert (await register(writer, "Canary")).status == 201

    with_writer(database_url, test)


def test_a_ping_goes_through_the_command_bus(container: Container, database_url: str) -> None:
    async def test(writer: WriterProcess) -> None:
        await writer.ping(timeout=5)
        # When the writer process dies, a ping fails at once, and the next writer answers
        writer._process.kill()  # type: ignore[union-attr]
        with pytest.raises((WriterUnavailable, TimeoutError)):
            await writer.ping(timeout=2)
        await answered_again(writer)

    with_writer(database_url, test)
