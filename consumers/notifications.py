"""Waking up when the event store has news: LISTEN/NOTIFY, with polling as the fallback."""

import threading
from collections.abc import Callable

import psycopg
from psycopg import sql


def follow(
    url: str,
    channel: str,
    step: Callable[[], bool],
    keep_going: Callable[[], bool],
    *,
    poll_seconds: float = 1.0,
    gather_seconds: float = 0.05,
) -> None:
    """Calls `step()` while `keep_going()`. When `step` says there is nothing more to do, waits
    for a notification on `channel` (or `poll_seconds`), then a little longer so that a burst
    of commits is handled as one batch."""
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        while keep_going():
            if not step():
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
                threading.Event().wait(gather_seconds)
