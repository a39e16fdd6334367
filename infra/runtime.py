"""Interpreter settings for the long-running processes."""

import ctypes
import ctypes.util
import gc
import signal
import sys
import threading

GEN0_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Fewer, later cyclic collections: request handling allocates many short-lived objects
    and few cycles, and each collection pauses every request in flight. Objects created at
    start-up are frozen out of collections altogether."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def exit_normally_on_sigterm() -> None:
    """SIGTERM ends the process as a normal exit, so atexit handlers run (the embedded
    PostgreSQL stops with its last user). uvicorn raises the signal again once it has shut
    down gracefully, and SIGTERM's default action would then kill the process on the spot."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: long-running commands finish their batch and stop."""
    stopping = threading.Event()
    for each in (signal.SIGTERM, signal.SIGINT):
        signal.signal(each, lambda *_: stopping.set())
    return stopping


def name_process(name: str) -> None:
    """Names this process as `ps` and `top` show it (Linux, at most 15 characters)."""
    libc = ctypes.util.find_library("c")
    if sys.platform == "linux" and libc:
        ctypes.CDLL(libc).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


PR_SET_NAME = 15
