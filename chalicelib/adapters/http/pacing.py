"""A small thread-safe pacer: at most `rate` requests per second from this process, with a burst.

GHL's budget (100 requests / 10 s per location) and CallTools' unknown limit are shared by every
Lambda instance; the per-process rate times the consumer's maximum concurrency stays under it.
The burst lets one contact's few calls go back to back after an idle moment (the real-time case)
without raising the sustained rate: over any window T, at most `burst + rate × T` requests start.
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
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        # Generic cell rate algorithm: a request may start this far ahead of its even-spaced slot.
        self._slack = max(0, burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0  # the slot of the next request if requests were evenly spaced
        self._held_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this request may go."""
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            due = max(now, self._next, self._held_until)
            slot = max(now, self._held_until, due - self._slack)
            self._next = due + self._interval
        if slot > now:
            self._sleep(slot - now)

    def hold_off(self, seconds: float) -> None:
        """The server says its window is spent: no request starts before `seconds` from now, and
        the spacing restarts from there (no burst straight after a 429)."""
        with self._lock:
            until = self._clock() + seconds
            self._held_until = max(self._held_until, until)
            self._next = max(self._next, until + self._slack)


def shared_burst(configured: int, total_rps: float, instances: int) -> int:
    """Each instance's burst, lowered so that every instance bursting at once adds at most one
    second's worth of the shared rate beyond the even spacing (GHL's 100 / 10 s window leaves 20
    calls of headroom over 8/s; CallTools publishes no window)."""
    return max(1, min(configured, 1 + int(total_rps // max(1, instances))))
