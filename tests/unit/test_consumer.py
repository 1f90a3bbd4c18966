"""The batch consumer: explicit deletes of successes, raise on any failure, DLQ for permanent ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import TransientError
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.services.consumer import BatchConsumer, BatchIncomplete
from tests.support.fakes import FakeCallTools, FakeDedup, FakeQueue
from tests.support.helpers import LOCATION_ID, sqs_record, tagged
from tests.support.worlds import sync_over_fakes


def message_body(contact_id: str, **kw) -> str:
    # dndSettings present: the snapshot settles DND for calls, so no GHL re-read is needed.
    body = tagged(
        "cold lead",
        id=contact_id,
        phone=kw.pop("phone", "+13125550147"),
        dndSettings={"Call": {"status": "inactive"}},
        **kw,
    )
    return parse_marketplace_event(body).model_dump_json()


@pytest.fixture
def parts():
    ct, queue, dedup = FakeCallTools(), FakeQueue(), FakeDedup()
    sync = sync_over_fakes(ct)
    return BatchConsumer(sync, dedup, queue, time_reserve_ms=1000), ct, queue


def forever() -> float:
    return 60_000


def test_all_good_batch_deletes_every_message(parts):
    consumer, ct, queue = parts
    recs = [sqs_record(message_body(f"c{i}", phone=f"+1312555{i:04d}")) for i in range(3)]
    assert consumer.handle(recs, forever) == {"batchItemFailures": []}
    assert sorted(queue.deleted) == sorted(r["receiptHandle"] for r in recs)
    assert len(ct.bucket_of()) == 3


def test_one_transient_failure_raises_after_deleting_the_others(parts):
    consumer, ct, queue = parts
    recs = [sqs_record(message_body(f"c{i}", phone=f"+1312555{i:04d}")) for i in range(3)]
    ct.fail_next["add"] = TransientError("CallTools 502")
    with pytest.raises(BatchIncomplete) as err:
        consumer.handle(recs, forever)
    assert err.value.failed_ids == [recs[0]["messageId"]]
    assert sorted(queue.deleted) == sorted(r["receiptHandle"] for r in recs[1:])


def test_invalid_message_goes_to_dlq_and_is_deleted(parts):
    consumer, _, queue = parts
    rec = sqs_record(json.dumps({"nonsense": True}))
    consumer.handle([rec], forever)
    assert queue.deleted == [rec["receiptHandle"]]
    assert queue.dead and "invalid message" in queue.dead[0][1]


def test_permanent_failure_goes_to_dlq_with_reason(parts):
    consumer, ct, queue = parts
    ct.undialable.add("+13125550147")
    rec = sqs_record(message_body("c1"))
    consumer.handle([rec], forever)
    assert queue.deleted == [rec["receiptHandle"]]
    assert len(queue.dead) == 1 and "dialable" in queue.dead[0][1]


def test_redrive_after_the_cause_is_fixed_syncs(parts):
    """A dead-lettered delivery leaves no dedup record, so its redrive is not a 'duplicate'."""
    consumer, ct, queue = parts
    ct.undialable.add("+13125550147")
    body = message_body("c1")
    consumer.handle([sqs_record(body)], forever)
    ct.undialable.clear()
    consumer.handle([sqs_record(queue.dead[0][0])], forever)  # redriven from the DLQ
    assert len(ct.bucket_of()) == 1


def test_duplicate_delivery_has_no_second_effect(parts):
    consumer, ct, _ = parts
    body = message_body("c1")
    consumer.handle([sqs_record(body)], forever)
    consumer.handle([sqs_record(body), sqs_record(body)], forever)
    assert ct.call_count("create") == 1 and ct.call_count("add") == 1
    assert consumer.outcomes[0]["duplicate"] is True


def test_records_without_time_left_are_deferred_not_counted_as_failed_deliveries(parts):
    """A copy goes back to the queue and the original is deleted: running out of Lambda time
    must not walk a healthy message toward the DLQ (ApproximateReceiveCount)."""
    consumer, ct, queue = parts
    recs = [sqs_record(message_body(f"c{i}", phone=f"+1312555014{i}")) for i in range(3)]
    budget = iter([60_000.0, 500.0, 500.0])  # time for the first record only
    assert consumer.handle(recs, lambda: next(budget)) == {"batchItemFailures": []}
    assert ct.call_count("create") == 1
    # The copies say they were deferred once: deferrals are counted apart from receives.
    assert queue.requeued == [
        (json.dumps({**json.loads(r["body"]), "deferrals": 1}, separators=(",", ":")), 0)
        for r in recs[1:]
    ]
    assert sorted(queue.deleted) == sorted(r["receiptHandle"] for r in recs)


def test_no_time_for_even_the_first_record_is_a_failure_not_an_endless_deferral(parts):
    consumer, ct, queue = parts
    with pytest.raises(BatchIncomplete):
        consumer.handle([sqs_record(message_body("c1"))], lambda: 500)
    assert ct.call_count() == 0 and not queue.requeued and not queue.deleted


def test_a_deferral_that_cannot_be_sent_leaves_the_record_to_sqs(parts):
    consumer, _, queue = parts
    queue.fail_send = True
    recs = [sqs_record(message_body("c1")), sqs_record(message_body("c2", phone="+13125550148"))]
    budget = iter([60_000.0, 500.0])
    with pytest.raises(BatchIncomplete) as incomplete:
        consumer.handle(recs, lambda: next(budget))
    assert incomplete.value.failed_ids == [recs[1]["messageId"]]
    assert queue.deleted == [recs[0]["receiptHandle"]] and not queue.requeued


def hit_body(contact_id: str = "c1") -> str:
    """What a reconciliation run enqueues for a contact its search found (DND stated, fresh)."""
    body = tagged("cold lead", id=contact_id, dndSettings={"Call": {"status": "inactive"}})
    snapshot = parse_marketplace_event(body).snapshot
    message = SyncMessage(
        origin="reconciliation",
        contact_id=contact_id,
        location_id=LOCATION_ID,
        event_time=utcnow() - timedelta(seconds=5),
        snapshot=snapshot,
        received_at=utcnow(),
    )
    return message.model_dump_json()


def consumer_with(**kwargs: Any) -> tuple[BatchConsumer, FakeCallTools, FakeDedup]:
    ct, dedup = FakeCallTools(), FakeDedup()
    sync = sync_over_fakes(ct)
    return BatchConsumer(sync, dedup, FakeQueue(), time_reserve_ms=1000, **kwargs), ct, dedup


def test_a_reconciliation_hit_keeps_no_dedup_record_and_its_redelivery_changes_nothing():
    consumer, ct, dedup = consumer_with()
    record = sqs_record(hit_body())
    consumer.handle([record], forever)
    assert consumer.outcomes[0]["result"] == "synced"
    consumer.handle([record], forever)  # SQS delivers the same message again
    assert consumer.outcomes == [{**consumer.outcomes[0], "result": "unchanged"}]
    assert not dedup.done and ct.call_count("create") == 1 and ct.call_count("add") == 1
    assert len(ct.calls) == 3  # find, create, add: nothing more for the second delivery


def test_the_webhook_clock_is_written_at_most_once_a_minute_with_the_newest_time():
    noted: list[datetime] = []
    now = [0.0]
    consumer, _, _ = consumer_with(webhook_clock=noted.append, seconds=lambda: now[0])
    received = []
    for i, at in enumerate((0.0, 30.0, 59.0, 61.0)):
        now[0] = at
        body = message_body(f"c{i}", phone=f"+1312555014{i}")
        received.append(SyncMessage.model_validate_json(body).received_at)
        consumer.handle([sqs_record(body)], forever)
    assert noted == [received[0], received[3]]
    consumer.handle([sqs_record(hit_body("c9"))], forever)  # a run's hit is no webhook
    now[0] = 200.0
    consumer.handle([sqs_record(hit_body("c8"))], forever)
    assert noted == [received[0], received[3]]


def test_a_webhook_clock_that_cannot_be_written_does_not_fail_the_record():
    def broken(at: datetime) -> None:
        raise RuntimeError("DynamoDB throttled the write")

    consumer, ct, _ = consumer_with(webhook_clock=broken)
    assert consumer.handle([sqs_record(message_body("c1"))], forever) == {"batchItemFailures": []}
    assert ct.bucket_of()
