"""A stand-in for EventBridge on one machine: runs the app's @app.schedule handlers when due.

Understands Chalice's Rate and Cron objects and AWS `rate(...)`/`cron(...)` strings: the six cron
fields with `*`, `?`, numbers, `a-b` ranges, `a,b` lists and `*/n` steps (all in UTC).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.app import Chalice, Cron, Rate, ScheduledEventConfig

_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _field_matches(spec: str, value: int) -> bool:
    for part in spec.split(","):
        part = part.strip().upper()
        for name, num in _DOW.items():
            part = part.replace(name, str(num))
        if part in ("*", "?"):
            return True
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            low, high = 0, 10_000
        elif "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
        else:
            low = high = int(part)
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def cron_matches(fields: list[str], at: datetime) -> bool:
    minute, hour, dom, month, dow, year = fields
    aws_dow = (at.isoweekday() % 7) + 1  # AWS: 1 = Sunday
    return all(
        (
            _field_matches(minute, at.minute),
            _field_matches(hour, at.hour),
            _field_matches(dom, at.day),
            _field_matches(month, at.month),
            _field_matches(dow, aws_dow),
            _field_matches(year, at.year),
        )
    )


def expression(schedule: Any) -> str:
    return schedule.to_string() if isinstance(schedule, Rate | Cron) else str(schedule)


def next_run(schedule: Any, after: datetime) -> datetime:
    text = expression(schedule)
    rate = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", text)
    if rate:
        return after + timedelta(seconds=int(rate.group(1)) * _RATE_UNITS[rate.group(2).lower()])
    cron = re.fullmatch(r"cron\((.+)\)", text)
    if not cron:
        raise ValueError(f"unknown schedule expression {text!r}")
    fields = cron.group(1).split()
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        if cron_matches(fields, at):
            return at
        at += timedelta(minutes=1)
    raise ValueError(f"{text} never fires within a year")


@dataclass
class Job:
    name: str
    schedule: Any
    handler: Callable[[dict[str, Any], Any], Any]
    due: datetime


class SchedulerStub:
    def __init__(self, app: Chalice, on_run: Callable[[str, BaseException | None], None]) -> None:
        now = datetime.now(UTC)
        self.jobs = [
            Job(src.name, src.schedule_expression, app.handler_map[src.name], now)
            for src in app.event_sources
            if isinstance(src, ScheduledEventConfig)
        ]
        for job in self.jobs:
            job.due = next_run(job.schedule, now)
        self._on_run = on_run
        self._stop = threading.Event()

    def describe(self) -> list[str]:
        return [
            f"{j.name}: {expression(j.schedule)}, next {j.due:%Y-%m-%d %H:%M} UTC"
            for j in self.jobs
        ]

    def _tick(self) -> None:
        now = datetime.now(UTC)
        for job in self.jobs:
            if job.due <= now:
                job.due = next_run(job.schedule, now)
                event = {
                    "source": "aws.events",
                    "detail-type": "Scheduled Event",
                    "time": now.isoformat(),
                }
                try:
                    job.handler(event, None)
                    self._on_run(job.name, None)
                except Exception as exc:
                    self._on_run(job.name, exc)

    def start(self) -> SchedulerStub:
        def loop() -> None:
            while not self._stop.wait(1.0):
                self._tick()

        threading.Thread(target=loop, name="scheduler-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
