"""The client-side pacer that keeps us under GHL's and CallTools' limits."""

from __future__ import annotations

from chalicelib.adapters.rate_limit import RatePacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_one_over_rate_apart():
    clock = Clock()
    pacer = RatePacer(5, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(11):
        pacer.wait()
    assert abs((clock.now - 100.0) - 2.0) < 1e-9  # 10 gaps of 0.2 s after the first request


def test_hold_off_pushes_later_requests_back():
    clock = Clock()
    pacer = RatePacer(100, clock=lambda: clock.now, sleep=clock.sleep)
    pacer.wait()
    pacer.hold_off(10.0)
    pacer.wait()
    assert clock.now >= 110.0


def test_zero_rate_means_unpaced():
    clock = Clock()
    pacer = RatePacer(0, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(100):
        pacer.wait()
    assert not clock.slept
