"""A long-running part of `crm serve` in a child process of its own (so that it never competes
with the API for the interpreter lock), started again whenever it dies."""

import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger()


class ChildProcess:
    """Runs `target(*args, parent_pid)` in a spawned child named `name`, and starts it again
    if it exits before `stop`. The target should return once its parent is gone."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self._name, self._target = name, target
        self._args = (*args, os.getpid())
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    def _spawn(self) -> None:
        self._process = self._context.Process(
            target=self._target, args=self._args, name=self._name, daemon=True
        )
        self._process.start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            if not self.alive and not self._stopping.is_set():
                code = self._process.exitcode if self._process else None
                log.error("child process exited; starting it again", child=self._name, code=code)
                self._spawn()
