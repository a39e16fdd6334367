"""Values worth keeping because they are slow to compute (a day's churn fit, a risk ranking),
computed off the request path: the policy alone, with no I/O (the computation, the worker
that runs it and the clock are given).

- The first value of a key is computed by the worker; readers who ask for it meanwhile wait
  for that one computation.
- Once a key has a value, no reader waits again: a value older than the reader allows (or
  not current by the reader's test) is served as it is, and one refresh of it is scheduled
  (none while one is under way).
- At most `bound` keys are kept, least recently used dropped first, but never a pinned key
  nor the one just computed.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Compute = Callable[[V | None], V]
"""Computes a key's value from the one kept (None for the first); returning the value kept
itself says it is still current."""
Submit = Callable[[Callable[[], V]], "Future[V]"]
"""Runs a task on the worker (never in the calling thread), returning its future."""


@dataclass(frozen=True, eq=False)
class _Entry(Generic[V]):
    value: V
    checked_at: float
    """When the computation that found or confirmed the value began (clock seconds)."""


class Kept(Generic[K, V]):
    """Values by key, computed by `submit`'s worker, their age measured by `clock`."""

    def __init__(
        self,
        submit: Submit[V],
        clock: Callable[[], float],
        bound: int,
        pinned: Callable[[K], bool] = lambda _: False,
        on_size: Callable[[int], None] = lambda _: None,
    ) -> None:
        self._submit, self._clock, self._bound = submit, clock, bound
        self._pinned, self._on_size = pinned, on_size
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._running: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        key: K,
        compute: Compute[V],
        fresh_for: float,
        current: Callable[[V], bool] = lambda _: True,
    ) -> V:
        """The value of `key`: the kept one (a refresh scheduled if it is `fresh_for`
        seconds old or not `current`), else the first, waited for."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                running = self._running.get(key) or self._schedule(key, compute, None)
            else:
                self._entries.move_to_end(key)
                if self._clock() - entry.checked_at >= fresh_for or not current(entry.value):
                    self._refresh(key, compute, entry.value)
                return entry.value
        return running.result()

    def peek(self, key: K) -> V | None:
        """The value kept for `key`, if any (computing nothing)."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.value

    def prefetch(self, key: K, compute: Compute[V]) -> None:
        """Schedules the first value of `key` unless it is kept or under way."""
        with self._lock:
            if key not in self._entries:
                self._refresh(key, compute, None)

    def _refresh(self, key: K, compute: Compute[V], kept: V | None) -> None:
        if key not in self._running:
            self._schedule(key, compute, kept)

    def _schedule(self, key: K, compute: Compute[V], kept: V | None) -> "Future[V]":
        """Runs `compute` on the worker (never in this thread: the lock is held)."""

        def task() -> V:
            started = self._clock()
            try:
                value = compute(kept)
            except BaseException:
                with self._lock:
                    del self._running[key]
                raise
            self._keep(key, value, started)
            return value

        running = self._running[key] = self._submit(task)
        return running

    def _keep(self, key: K, value: V, checked_at: float) -> None:
        with self._lock:
            self._entries[key] = _Entry(value, checked_at)
            self._entries.move_to_end(key)
            del self._running[key]
            for old in [k for k in self._entries if k != key and not self._pinned(k)]:
                if len(self._entries) <= self._bound:
                    break
                del self._entries[old]
            size = len(self._entries)
        self._on_size(size)
