"""Several records of one SQS batch synced at once.

A contact's sync mostly waits: on CallTools, on GHL, on DynamoDB, one call after another. One
record at a time, an invocation adds those waits up, and a first import runs at the pace of the
latency, not of the slowest API's limit. With a few records at once the waits overlap, while the
container's API clients still pace every call to this instance's share of each API's rate.

What makes it safe to share one container's services between the records: each thread holds its
own contact leases (Lease.owner is per thread), the records of one contact run one after another
in one lane (and two copies meet at the lease's conditional write), the log keys are per thread,
and the metrics, pacers and dedup unit of work lock or keep per-thread state.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class RecordPool(BatchProcessor):
    """Powertools' BatchProcessor, its records handled `at_once` at a time (1: one by one)."""

    def __init__(self, at_once: int) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._at_once = at_once

    def process(self) -> list[tuple[Any, ...]]:
        lanes = _lanes(self.records)
        workers = min(self._at_once, len(lanes))
        if workers <= 1:
            return super().process()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="record") as pool:
            done = pool.map(lambda lane: [self._process_record(r) for r in lane], lanes)
            return [result for lane in done for result in lane]


def _lanes(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The records of each contact in one lane, in batch order: GHL sends several events for one
    change (a tag, then DND), and side by side the later one would wait out the earlier one's
    lease (up to CONTACT_LEASE_SECONDS) instead of following it a moment later."""
    lanes: dict[str, list[dict[str, Any]]] = {}
    for i, record in enumerate(records):
        lanes.setdefault(_contact_of(record) or f"#{i}", []).append(record)
    return list(lanes.values())


def _contact_of(record: dict[str, Any]) -> str | None:
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return None
    contact = body.get("contact_id") if isinstance(body, dict) else None
    return contact if isinstance(contact, str) else None
