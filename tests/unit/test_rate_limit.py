"""The client-side pacer that keeps us under GHL's and CallTools' limits."""

from __future__ import annotations

import pytest

from chalicelib.adapters.http.pacing import RatePacer, shared_burst


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


def test_a_burst_goes_at_once_after_idle_then_the_rate_holds():
    clock = Clock()
    pacer = RatePacer(5, burst=3, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.now == 100.0 and not clock.slept
    for _ in range(10):
        pacer.wait()
    # 13 requests in 2 s: at most burst + rate × T, as with an evenly spaced start.
    assert abs((clock.now - 100.0) - 2.0) < 1e-9


def test_the_burst_refills_only_with_idle_time():
    clock = Clock()
    pacer = RatePacer(5, burst=2, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(6):
        pacer.wait()
    clock.now += 0.2  # idle for one interval after a spent burst: one request's credit
    clock.slept.clear()
    pacer.wait()  # the credit of the idle interval: goes at once
    pacer.wait()  # no second credit: waits one interval
    assert clock.slept == [pytest.approx(0.2)]


def test_no_burst_straight_after_a_hold_off():
    clock = Clock()
    pacer = RatePacer(5, burst=3, clock=lambda: clock.now, sleep=clock.sleep)
    pacer.hold_off(10.0)
    pacer.wait()
    assert clock.now == 110.0
    pacer.wait()
    assert abs(clock.now - 110.2) < 1e-9


def test_bursts_shrink_as_instances_grow_to_stay_within_a_second_of_the_rate():
    assert shared_burst(3, total_rps=5, instances=2) == 3  # 2 × 2 extra calls ≤ 5
    assert shared_burst(5, total_rps=5, instances=2) == 3
    assert shared_burst(2, total_rps=8, instances=10) == 1
    assert shared_burst(5, total_rps=100, instances=4) == 5
