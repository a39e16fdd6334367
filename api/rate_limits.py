"""Rate limits counted in this process's memory, in a moving window (the `limits` package)."""

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimit:
    """Hits per identifier (a client address, a key) within limits such as '20/second;600/minute'
    (empty: no limit); not shared between API processes."""

    def __init__(self, spec: str) -> None:
        self._items: list[RateLimitItem] = parse_many(spec) if spec else []
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, identifier: str) -> int | None:
        """None if a hit of `identifier` is within the limits now (it is counted); else the whole
        seconds until it would be."""
        if len(self._items) == 1:  # the usual case: one hit tests and counts (test() costs more)
            refused = [] if self._limiter.hit(self._items[0], identifier) else self._items
        else:
            refused = [item for item in self._items if not self._limiter.test(item, identifier)]
            for item in [] if refused else self._items:
                self._limiter.hit(item, identifier)
        if not refused:
            return None
        resets = [self._limiter.get_window_stats(item, identifier).reset_time for item in refused]
        return max(1, math.ceil(max(resets) - time.time()))
