"""A small thread-safe pacer: at most `rate` requests per second from this process.

GHL's budget (100 requests / 10 s per location) and CallTools' unknown limit are shared by every
Lambda instance; the per-process rate times the consumer's maximum concurrency stays under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RatePacer:
    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this request may go; requests are spaced `1/rate` apart."""
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def hold_off(self, seconds: float) -> None:
        """The server says its window is spent: push every later request back."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)
