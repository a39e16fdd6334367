"""Interpreter settings for the long-running processes."""

import gc
import signal
import threading

GEN0_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Fewer, later cyclic collections: request handling allocates many short-lived objects
    and few cycles, and each collection pauses every request in flight. Objects created at
    start-up are frozen out of collections altogether."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: long-running commands finish their batch and stop."""
    stopping = threading.Event()
    for each in (signal.SIGTERM, signal.SIGINT):
        signal.signal(each, lambda *_: stopping.set())
    return stopping
