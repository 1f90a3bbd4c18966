"""Several records of one SQS batch synced at once.

A contact's sync mostly waits: on CallTools, on GHL, on DynamoDB, one call after another. One
record at a time, an invocation adds those waits up, and a first import runs at the pace of the
latency, not of the slowest API's limit. With a few records at once the waits overlap, while the
container's API clients still pace every call to this instance's share of each API's rate.

What makes it safe to share one container's services between the records: each thread holds its
own contact leases (Lease.owner is per thread), two records of the same contact meet at the
lease's conditional write (the loser is deferred), the log keys are per thread, and the metrics,
pacers and dedup unit of work lock or keep per-thread state.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class RecordPool(BatchProcessor):
    """Powertools' BatchProcessor, its records handled `at_once` at a time (1: one by one)."""

    def __init__(self, at_once: int) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._at_once = at_once

    def process(self) -> list[tuple[Any, ...]]:
        workers = min(self._at_once, len(self.records))
        if workers <= 1:
            return super().process()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="record") as pool:
            return list(pool.map(self._process_record, self.records))
