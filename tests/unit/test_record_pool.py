"""Records of one batch synced side by side (services/record_pool.py): their waits overlap, each
thread holds its own leases and log keys."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import TransientError
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.ports import CallToolsMatch
from chalicelib.runtime.observability import logger
from chalicelib.services.consumer import BatchConsumer, BatchIncomplete
from chalicelib.services.sync.lease import Lease
from tests.support.fakes import FakeCallTools, FakeDedup, FakeQueue, FakeStateStore
from tests.support.helpers import sqs_record, tagged
from tests.support.worlds import sync_over_fakes


class MeetingCallTools(FakeCallTools):
    """Each phone search waits until `parties` searches are in flight at once (or times out)."""

    def __init__(self, parties: int, timeout: float) -> None:
        super().__init__()
        self.meeting = threading.Barrier(parties, timeout=timeout)
        self.keys_seen: list[Any] = []

    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]:
        self.keys_seen.append(logger.thread_safe_get_current_keys().get("contact_id"))
        self.meeting.wait()
        return super().find_contacts_by_phone(phone_e164)


def consumer(ct: FakeCallTools, at_once: int) -> tuple[BatchConsumer, FakeQueue]:
    queue = FakeQueue()
    sync = sync_over_fakes(ct)
    return BatchConsumer(
        sync, FakeDedup(), queue, time_reserve_ms=1000, records_at_once=at_once
    ), queue


def records(n: int) -> list[dict[str, Any]]:
    bodies = [
        tagged(
            "cold lead",
            id=f"c{i}",
            phone=f"+1312555{i:04d}",
            dndSettings={"Call": {"status": "inactive"}},
            timestamp=utcnow().isoformat(),
        )
        for i in range(n)
    ]
    return [sqs_record(parse_marketplace_event(b).model_dump_json()) for b in bodies]


def test_records_of_a_batch_wait_on_calltools_side_by_side():
    ct = MeetingCallTools(parties=3, timeout=10)
    handler, queue = consumer(ct, at_once=3)
    batch = records(3)
    assert handler.handle(batch, lambda: 60_000.0) == {"batchItemFailures": []}
    assert len(ct.bucket_of()) == 3 and len(queue.deleted) == 3
    # Each record's log lines carried its own contact, and none is left on any thread after.
    assert sorted(ct.keys_seen) == ["c0", "c1", "c2"]
    assert "contact_id" not in logger.thread_safe_get_current_keys()


class OnePhoneDown(FakeCallTools):
    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]:
        if phone_e164.endswith("0001"):
            raise TransientError("CallTools answered 503")
        return super().find_contacts_by_phone(phone_e164)


def test_side_by_side_only_the_failed_record_comes_back():
    ct = OnePhoneDown()
    handler, queue = consumer(ct, at_once=4)
    batch = records(4)
    with pytest.raises(BatchIncomplete) as raised:
        handler.handle(batch, lambda: 60_000.0)
    assert raised.value.failed_ids == [batch[1]["messageId"]]
    assert sorted(queue.deleted) == sorted(
        r["receiptHandle"] for i, r in enumerate(batch) if i != 1
    )


def test_one_record_at_a_time_never_overlaps():
    ct = MeetingCallTools(parties=2, timeout=0.3)
    handler, _ = consumer(ct, at_once=1)
    with pytest.raises(BatchIncomplete):  # the search waits for a second that never comes
        handler.handle(records(2), lambda: 60_000.0)


def test_each_thread_holds_its_own_leases():
    lease = Lease(FakeStateStore(), 60, utcnow)
    owners: list[str] = []
    together = threading.Barrier(2, timeout=5)  # alive at once: thread ids are not reused

    def take() -> None:
        owners.append(lease.owner)
        together.wait()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(set(owners)) == 2 and lease.owner == lease.owner


def test_records_of_one_contact_run_one_after_another_in_batch_order():
    """A tag and then DND for one contact: the removal follows the add at once, instead of
    waiting out the add's lease as a deferral."""
    ct = FakeCallTools()
    handler, queue = consumer(ct, at_once=4)
    add = tagged(
        "cold lead",
        id="c7",
        phone="+13125550007",
        dndSettings={"Call": {"status": "inactive"}},
        timestamp=utcnow().isoformat(),
    )
    dnd = {
        **add,
        "dndSettings": {"Call": {"status": "active"}},
        "timestamp": (utcnow() + timedelta(seconds=1)).isoformat(),
        "webhookId": "wh-dnd-c7",  # another delivery, not a copy of the first
    }
    batch = [sqs_record(parse_marketplace_event(b).model_dump_json()) for b in (add, dnd)]
    batch += records(3)
    assert handler.handle(batch, lambda: 60_000.0) == {"batchItemFailures": []}
    assert not queue.requeued  # nothing deferred
    assert len(ct.bucket_of()) == 3  # the three others; c7 was added, then taken out


def test_a_contacts_records_share_one_lane_in_batch_order():
    from chalicelib.services.record_pool import _lanes

    batch = records(3)
    again = sqs_record(batch[1]["body"])  # c1 again, later in the batch
    step = sqs_record('{"kind":"reconcile_step","run_id":"r"}')
    lanes = _lanes([batch[0], batch[1], step, batch[2], again])
    assert lanes == [[batch[0]], [batch[1], again], [step], [batch[2]]]
