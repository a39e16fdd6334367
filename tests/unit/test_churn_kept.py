"""The policy of kept churn fits and rankings (`Kept`), with a worker the test runs by hand
and a clock it moves: one computation per key at a time, a kept value served while its
refresh runs, pinned keys never dropped, least recently used dropped first, a bound."""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from projections.churn.kept import Kept


class Worker:
    """Takes tasks, and runs them when the test says (the test's thread plays the worker)."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Callable[[], object], Future[object]]] = []

    def submit(self, task: Callable[[], object]) -> Future[object]:
        future: Future[object] = Future()
        self.tasks.append((task, future))
        return future

    def run(self) -> None:
        while self.tasks:
            task, future = self.tasks.pop(0)
            try:
                future.set_result(task())
            except Exception as error:  # noqa: BLE001 - the future carries it
                future.set_exception(error)


class Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


class Fits:
    """A computation that counts its runs and answers (key, run number)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, object]] = []

    def of(self, key: str) -> Callable[[object], object]:
        def compute(kept: object) -> object:
            self.runs.append((key, kept))
            return (key, len(self.runs))

        return compute


@pytest.fixture
def worker() -> Worker:
    return Worker()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def kept_with(worker: Worker, clock: Clock, bound: int = 4, pinned: str = "") -> Kept:
    return Kept(worker.submit, clock, bound, lambda key: key == pinned)  # type: ignore[arg-type]


def first(kept: Kept, worker: Worker, key: str, fits: Fits) -> object:
    """The first value of `key`, computed by the worker."""
    kept.prefetch(key, fits.of(key))
    worker.run()
    return kept.get(key, fits.of(key), fresh_for=60)


def test_a_kept_value_is_served_while_one_refresh_of_it_runs(worker, clock) -> None:
    # Given a value computed at 0 s, 60 s fresh
    kept, fits = kept_with(worker, clock), Fits()
    old = first(kept, worker, "day", fits)
    # When it is asked for at 30 s, then twice at 61 s
    clock.seconds = 30
    fresh = kept.get("day", fits.of("day"), fresh_for=60)
    queued_when_fresh = len(worker.tasks)
    clock.seconds = 61
    stale = [kept.get("day", fits.of("day"), fresh_for=60) for _ in range(2)]
    # Then every reader got the kept value at once, and one refresh (of it) was scheduled
    assert (fresh, stale) == (old, [old, old])
    assert (queued_when_fresh, len(worker.tasks)) == (0, 1)
    # And once it ran, readers get the new value, fresh from when it began
    worker.run()
    assert fits.runs[-1] == ("day", old)
    assert kept.get("day", fits.of("day"), fresh_for=60) == ("day", 2)
    assert not worker.tasks


def test_a_value_not_current_is_served_and_refreshed(worker, clock) -> None:
    kept, fits = kept_with(worker, clock), Fits()
    old = first(kept, worker, "now", fits)
    # When a reader finds it not current (its fit was replaced), however young
    found = kept.get("now", fits.of("now"), fresh_for=60, current=lambda _: False)
    # Then it is served, and refreshed
    assert found == old and len(worker.tasks) == 1


def test_a_refresh_that_fails_keeps_the_value_and_is_tried_again(worker, clock) -> None:
    kept, fits = kept_with(worker, clock), Fits()
    old = first(kept, worker, "day", fits)
    clock.seconds = 100

    def failing(_: object) -> object:
        raise ConnectionError("database away")

    assert kept.get("day", failing, fresh_for=60) == old
    worker.run()
    # Then the value is still served, and the next reader schedules another refresh
    assert kept.get("day", fits.of("day"), fresh_for=60) == old
    assert len(worker.tasks) == 1


def test_a_first_computation_that_fails_fails_its_readers_and_is_tried_again(clock) -> None:
    with ThreadPoolExecutor(1) as pool:
        kept = Kept(pool.submit, clock, 4)
        calls: list[int] = []

        def once_failing(_: object) -> int:
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("database away")
            return 7

        with pytest.raises(ConnectionError):
            kept.get("day", once_failing, fresh_for=60)
        assert kept.get("day", once_failing, fresh_for=60) == 7


def test_readers_of_a_key_never_computed_share_one_computation(clock) -> None:
    # Given a first computation held until four readers have started
    started, release = threading.Semaphore(0), threading.Event()
    runs: list[int] = []

    def slow(_: object) -> object:
        for _ in range(4):
            started.acquire()
        release.wait()
        runs.append(1)
        return object()

    with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(4) as readers:
        kept = Kept(pool.submit, clock, 4)

        def read(_: int) -> object:
            started.release()
            return kept.get("day", slow, fresh_for=60)

        answers = readers.map(read, range(4))
        release.set()
        found = list(answers)
    # Then it ran once, and every reader got its value
    assert len(runs) == 1 and all(f is found[0] for f in found)


def test_the_least_recently_used_is_dropped_first(worker, clock) -> None:
    # Given a bound of two, and two days kept
    kept, fits = kept_with(worker, clock, bound=2), Fits()
    first(kept, worker, "monday", fits)
    first(kept, worker, "tuesday", fits)
    # When monday is read again, then a third day computed
    kept.get("monday", fits.of("monday"), fresh_for=60)
    first(kept, worker, "wednesday", fits)
    # Then tuesday, the least recently used, was dropped
    assert [kept.peek(day) is not None for day in ("monday", "tuesday", "wednesday")] == [
        True,
        False,
        True,
    ]
    assert len(kept) == 2


def test_a_pinned_key_is_never_dropped(worker, clock) -> None:
    # Given today pinned, with a bound of two
    kept, fits = kept_with(worker, clock, bound=2, pinned="today"), Fits()
    first(kept, worker, "today", fits)
    # When five other days are computed, one after the other
    for n in range(5):
        first(kept, worker, f"day {n}", fits)
    # Then today is kept, with the last day computed only
    assert kept.peek("today") is not None and kept.peek("day 4") is not None
    assert len(kept) == 2


def test_the_size_is_told_after_each_value_kept(worker, clock) -> None:
    sizes: list[int] = []
    kept = Kept(worker.submit, clock, 2, on_size=sizes.append)  # type: ignore[arg-type]
    fits = Fits()
    for day in ("a", "b", "c"):
        first(kept, worker, day, fits)
    assert sizes == [1, 2, 2]
