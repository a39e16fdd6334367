"""The command bus in a child process, so that deciding and saving commands never waits
for the interpreter lock held by the HTTP loop.

The API process sends lists of `(sequence, target, command, context)` over a pipe; the writer
answers with lists of `(sequence, outcome or error)`. Each side sends what it has gathered in
one message, so a burst of commands costs one pipe write and one wake-up each way, not one per
command. If the writer dies, waiting callers get an error and a new writer is started.
"""

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
from multiprocessing.connection import Connection
from queue import SimpleQueue
from typing import Any

import structlog

from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from domain.errors import CrmError
from infra.bootstrap import assemble
from infra.logging import configure_logging
from infra.runtime import tune_garbage_collector
from infra.settings import Settings

log = structlog.get_logger()


class WriterUnavailable(RuntimeError):
    """The command writer process stopped before answering."""


class WriterProcess:
    """Runs a CommandBus in a child process; `execute` sends a command and awaits its answer.

    Answers are read on the event loop itself (`add_reader` on the pipe): no reader thread,
    so no hand-over between threads for each answer. Start it from within the running loop.
    """

    def __init__(self, url: str, log_level: str, max_batch: int) -> None:
        self._args = (url, log_level, max_batch, os.getpid())
        self._context = multiprocessing.get_context("spawn")
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._sequence = 0
        self._outbox: list[tuple[int, Target, Command, CommandContext]] = []
        self._stopping = False
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=write_in_child,
            args=(theirs, *self._args),
            name="crm-command-writer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._conn = ours
        self._loop.add_reader(ours.fileno(), self._read_answers)

    def stop(self) -> None:
        """Asks the writer to finish what it has, and waits for it to stop."""
        self._stopping = True
        if self._conn is None:
            return
        if self._outbox:
            self._send_outbox()
        self._loop.remove_reader(self._conn.fileno())  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            self._conn.send(None)
        if self._process is not None:
            self._process.join(timeout=30)
        self._conn.close()

    async def execute(self, target: Target, command: Command, context: CommandContext) -> Outcome:
        """Sends a command to the writer and waits for its answer."""
        if self._conn is None or self._conn.closed:
            raise WriterUnavailable("the command writer is restarting; retry")
        future = self._loop.create_future()  # type: ignore[union-attr]
        self._sequence += 1
        self._waiting[self._sequence] = future
        self._outbox.append((self._sequence, target, command, context))
        if len(self._outbox) == 1:
            self._loop.call_soon(self._send_outbox)  # type: ignore[union-attr]
        return await future

    def _send_outbox(self) -> None:
        """Sends the commands of this loop iteration's requests in one message."""
        outbox, self._outbox = self._outbox, []
        if not outbox:
            return  # a writer restart answered them already
        try:
            self._conn.send(outbox)  # type: ignore[union-attr]
        except Exception as error:  # noqa: BLE001 - each waiting caller gets the error
            if isinstance(error, OSError):
                error = WriterUnavailable("the command writer is restarting; retry")
            for sequence, *_ in outbox:
                future = self._waiting.pop(sequence, None)
                if future is not None and not future.done():
                    future.set_exception(error)

    def _read_answers(self) -> None:
        conn = self._conn
        try:
            while conn.poll():  # type: ignore[union-attr]
                for sequence, answer in conn.recv():  # type: ignore[union-attr]
                    future = self._waiting.pop(sequence, None)
                    if future is None or future.done():
                        continue  # the caller went away
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        except (EOFError, OSError):
            self._writer_gone()

    def _writer_gone(self) -> None:
        self._loop.remove_reader(self._conn.fileno())  # type: ignore[union-attr]
        self._conn.close()  # type: ignore[union-attr]
        waiting, self._waiting = self._waiting, {}
        self._outbox.clear()  # their callers are told below; the next writer never sees them
        for future in waiting.values():
            if not future.done():
                future.set_exception(WriterUnavailable("the command writer stopped; retry"))
        if not self._stopping:
            log.error("command writer exited; starting it again")
            self.start()


def write_in_child(
    conn: Connection, url: str, log_level: str, max_batch: int, parent_pid: int
) -> None:
    """The writer process: runs commands from the pipe until it closes or the parent is gone."""
    configure_logging(log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    settings = Settings(database_url=url, group_commit_max=max_batch, _env_file=None)
    container = assemble(settings, url)  # the API process prepared the database
    container.start()
    tune_garbage_collector()
    answers: SimpleQueue[tuple[int, Any] | None] = SimpleQueue()
    sender = threading.Thread(target=_send_answers, args=(conn, answers), daemon=True)
    sender.start()
    try:
        while os.getppid() == parent_pid:
            try:
                messages = conn.recv()
            except EOFError:
                break
            if messages is None:
                break
            for sequence, target, command, context in messages:
                try:
                    future = container.bus.submit(target, command, context)
                except CrmError as refusal:
                    answers.put((sequence, refusal))
                    continue
                future.add_done_callback(
                    lambda f, s=sequence: answers.put((s, f.exception() or f.result()))
                )
    finally:
        container.close()  # answers what is queued
        answers.put(None)
        sender.join(timeout=30)


def _send_answers(conn: Connection, answers: "SimpleQueue[tuple[int, Any] | None]") -> None:
    """Sends answers as they come, all that are ready in one message, until `None`."""
    while True:
        gathered = [answers.get()] + [answers.get() for _ in range(answers.qsize())]
        ready = [answer for answer in gathered if answer is not None]
        if ready:
            _send(conn, ready)
        if None in gathered:
            return


def _send(conn: Connection, ready: list[tuple[int, Any]]) -> None:
    try:
        conn.send(ready)
    except (pickle.PicklingError, TypeError, AttributeError):  # an error that cannot travel
        conn.send([(s, a if _picklable(a) else RuntimeError(str(a))) for s, a in ready])
    except OSError:
        pass  # the API process is gone: nobody waits for these answers


def _picklable(answer: Any) -> bool:
    try:
        pickle.dumps(answer)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True
