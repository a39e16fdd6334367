"""The command bus in a child process, so that deciding and saving commands never waits
for the interpreter lock held by the HTTP loop.

The two processes talk over a socket in authenticated frames of JSON (`commands.channel`,
`commands.wire`): never pickle, so no request's bytes can reach anything but validation.
The API side writes through an asyncio transport, which buffers what the socket cannot take
yet: a frame is never half written, whatever its size, and the event loop never blocks. Each
side sends what it has gathered in one frame, so a burst of commands costs one write and one
wake-up each way. Every caller waits at most `command_timeout` seconds. If the channel fails
or desynchronises, or the writer stops answering pings, the writer is stopped and a new one
started; only the commands in flight fail (503, retry). On shutdown a writer that was sent
commands finishes them before it exits; one that was sent none is ended at once, even while
it is still starting, since it holds nothing to finish.
"""

import asyncio
import multiprocessing
import signal
import socket
import threading
from collections.abc import Coroutine
from queue import SimpleQueue
from typing import Any

import structlog
from pydantic import ValidationError

from api.bootstrap import Container, assemble
from commands import wire
from commands.base import Command
from commands.channel import (
    ANSWERS,
    MAX_PAYLOAD,
    REQUESTS,
    ChannelDesync,
    FrameReader,
    FrameWriter,
    new_key,
)
from commands.context import CommandContext, Outcome, Target
from commands.wire import CommandFailed, WriterUnavailable
from domain.errors import CrmError
from infra.logging import configure_logging
from infra.runtime import name_process, tune_garbage_collector
from infra.settings import Settings

log = structlog.get_logger()

__all__ = ["CommandFailed", "WriterProcess", "WriterUnavailable"]

PROCESS_NAME = "crm-writer"
PING_TIMEOUT_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 5.0
"""How long a stopping writer may take to answer what it has before it is killed."""


class WriterProcess:
    """Runs a CommandBus in a child process; `execute` sends a command and awaits its answer.

    Start it from within the running loop. Answers are read on the event loop itself.
    """

    def __init__(self, settings: Settings) -> None:
        """`settings` (with the prepared database's URL) are the writer's too, `.env` included."""
        self._settings = settings
        self._timeout = settings.command_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._sequence = 0
        self._outbox: list[bytes] = []
        self._stopping = False
        self._checking = False
        self._commanded = False
        self._process: multiprocessing.process.BaseProcess | None = None
        self._transport: asyncio.Transport | None = None
        self._frames: FrameWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Starts a writer process and connects to it."""
        self._loop = asyncio.get_running_loop()
        self._commanded = False
        ours, theirs = socket.socketpair()
        key = new_key()
        self._process = self._context.Process(
            target=write_in_child,
            args=(theirs, key, self._settings),
            name="crm-command-writer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._frames = FrameWriter(key, REQUESTS)
        self._transport, _ = await self._loop.create_unix_connection(
            lambda: _Answers(self, FrameReader(key, ANSWERS)), sock=ours
        )

    def stop(self) -> None:
        """Asks the writer to finish the commands it was sent, and waits for it to stop (kills
        it after STOP_TIMEOUT_SECONDS); a writer sent no command is terminated at once."""
        self._stopping = True
        process, transport = self._process, self._transport
        if transport is None or process is None:
            return
        if self._commanded:
            self._send_outbox()
            self._write([wire.Stop().model_dump_json().encode()])
        else:
            process.terminate()  # maybe still importing: waiting for it to read Stop takes seconds
        process.join(timeout=STOP_TIMEOUT_SECONDS)
        if process.is_alive():
            log.error("command writer did not stop in time; killing it")
            process.kill()
            process.join(timeout=STOP_TIMEOUT_SECONDS)
        transport.abort()

    async def execute(self, target: Target, command: Command, context: CommandContext) -> Outcome:
        """Sends a command to the writer and waits for its answer (at most the timeout)."""
        seq = self._next_seq()
        self._commanded = True
        return await self._ask(seq, wire.command_message(seq, target, command, context))

    async def ping(self, timeout: float = PING_TIMEOUT_SECONDS) -> None:
        """Returns once the writer's command bus has answered through the channel."""
        seq = self._next_seq()
        message = wire.Ping(seq=seq).model_dump_json().encode()
        await asyncio.wait_for(self._ask(seq, message), timeout)

    def _next_seq(self) -> int:
        self._sequence += 1
        return self._sequence

    async def _ask(self, seq: int, message: bytes) -> Outcome:
        if self._transport is None or self._transport.is_closing():
            raise WriterUnavailable("the command writer is restarting; retry")
        future = self._loop.create_future()  # type: ignore[union-attr]
        self._waiting[seq] = future
        self._outbox.append(message)
        if len(self._outbox) == 1:
            self._loop.call_soon(self._send_outbox)  # type: ignore[union-attr]
        timer = self._loop.call_later(self._timeout, self._timed_out, seq)  # type: ignore[union-attr]
        try:
            return await future
        finally:
            timer.cancel()

    def _timed_out(self, seq: int) -> None:
        """A caller waited too long: it gets a 503, and the writer is checked."""
        future = self._waiting.pop(seq, None)
        if future is not None and not future.done():
            future.set_exception(
                WriterUnavailable("the command writer did not answer in time; retry")
            )
            self._background(self._check_writer())

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` on the loop, keeping a reference until it is done."""
        task = self._loop.create_task(work)  # type: ignore[union-attr]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send_outbox(self) -> None:
        """Sends the messages of this loop iteration's requests, in frames below the limit."""
        outbox, self._outbox = self._outbox, []
        chunk: list[bytes] = []
        size = 0
        for message in outbox:
            if chunk and size + len(message) + 1 > MAX_PAYLOAD // 2:
                self._write(chunk)
                chunk, size = [], 0
            chunk.append(message)
            size += len(message) + 1
        if chunk:
            self._write(chunk)

    def _write(self, messages: list[bytes]) -> None:
        if self._transport is None or self._transport.is_closing():
            return  # the writer is gone: its callers are told by `_writer_gone`
        self._transport.write(self._frames.frame(wire.payload(messages)))  # type: ignore[union-attr]

    def _answer(self, data: bytes) -> None:
        for seq, result in wire.answers(data):
            future = self._waiting.pop(seq, None)
            if future is None or future.done():
                continue  # the caller gave up waiting
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _check_writer(self) -> None:
        """After a command timed out: a writer that does not answer a ping is restarted."""
        if self._checking or self._stopping:
            return
        self._checking = True
        try:
            await self.ping()
        except (TimeoutError, WriterUnavailable):
            log.error("command writer does not answer; restarting it")
            self._restart()
        finally:
            self._checking = False

    def _restart(self) -> None:
        """Stops the writer at once; `_writer_gone` fails its callers and starts another."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._transport is not None:
            self._transport.abort()

    def _writer_gone(self, transport: asyncio.BaseTransport) -> None:
        if transport is not self._transport:
            return  # an earlier writer's channel
        if self._process is not None:
            self._process.kill()  # no-op if it has exited
            self._process.join(timeout=STOP_TIMEOUT_SECONDS)
        waiting, self._waiting = self._waiting, {}
        self._outbox = []  # their callers are told below
        for future in waiting.values():
            if not future.done():
                future.set_exception(WriterUnavailable("the command writer stopped; retry"))
        if not self._stopping:
            log.error("command writer exited; starting it again")
            self._background(self.start())


class _Answers(asyncio.Protocol):
    """Reads the writer's answer frames on the event loop."""

    def __init__(self, owner: WriterProcess, frames: FrameReader) -> None:
        self._owner, self._frames = owner, frames
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            for payload in self._frames.feed(data):
                self._owner._answer(payload)
        except (ChannelDesync, ValidationError) as error:
            log.error(
                "command channel desynchronised; restarting the writer", error=type(error).__name__
            )
            self._owner._restart()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._writer_gone(self._transport)  # type: ignore[arg-type]


def write_in_child(sock: socket.socket, key: bytes, settings: Settings) -> None:
    """The writer process: runs commands from the channel until it closes or says stop."""
    configure_logging(settings.log_level)
    name_process(PROCESS_NAME)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    assert settings.database_url, "the API process prepares the database and names it"
    container = assemble(settings, settings.database_url)
    container.start()
    tune_garbage_collector()
    answers: SimpleQueue[tuple[int, Any] | None] = SimpleQueue()
    sender = threading.Thread(
        target=_send_answers, args=(sock, FrameWriter(key, ANSWERS), answers), daemon=True
    )
    sender.start()
    try:
        _serve(sock, FrameReader(key, REQUESTS), container, answers)
    except (ChannelDesync, ValidationError) as error:
        log.error("command channel desynchronised; stopping", error=type(error).__name__)
    finally:
        container.close()  # answers what is queued
        answers.put(None)
        sender.join(timeout=30)


def _serve(
    sock: socket.socket,
    frames: FrameReader,
    container: Container,
    answers: "SimpleQueue[tuple[int, Any] | None]",
) -> None:
    """Hands each command of each frame to the bus; returns on stop or a closed channel."""
    while data := sock.recv(1 << 20):
        for payload in frames.feed(data):
            for message in wire.requests(payload):
                if isinstance(message, wire.Stop):
                    return
                if isinstance(message, wire.Ping):
                    pong = container.bus.ping()
                    pong.add_done_callback(lambda _, s=message.seq: answers.put((s, PONG)))
                else:
                    _submit(message, container, answers)


PONG = Outcome(200, {})


def _submit(
    message: wire.CommandMessage,
    container: Container,
    answers: "SimpleQueue[tuple[int, Any] | None]",
) -> None:
    seq = message.seq
    try:
        command = wire.command_of(message)
        future = container.bus.submit(message.target, command, message.context)
    except (KeyError, ValidationError):
        answers.put((seq, CommandFailed("a command the writer could not read")))
        return
    except CrmError as refusal:
        answers.put((seq, refusal))
        return
    future.add_done_callback(lambda f: answers.put((seq, f.exception() or f.result())))


def _send_answers(
    sock: socket.socket, frames: FrameWriter, answers: "SimpleQueue[tuple[int, Any] | None]"
) -> None:
    """Sends answers as they come, all that are ready in one frame, until `None`."""
    while True:
        gathered = [answers.get()] + [answers.get() for _ in range(answers.qsize())]
        ready = [_encoded(*each) for each in gathered if each is not None]
        if ready:
            try:
                sock.sendall(frames.frame(wire.payload(ready)))
            except OSError:
                return  # the API process is gone: nobody waits for these answers
        if None in gathered:
            return


def _encoded(seq: int, result: Outcome | BaseException) -> bytes:
    if not isinstance(result, Outcome | CrmError) and wire.failure_kind(result) == "internal":
        log.error("command failed", error=type(result).__name__)  # messages may hold values
    try:
        return wire.answer(seq, result)
    except (TypeError, ValueError):  # an outcome that is not JSON
        return wire.answer(seq, CommandFailed("an answer that could not be sent"))
