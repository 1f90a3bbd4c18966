"""Failures on the real-time path: retries, both SQS response configurations, DLQ, and the
CallTools facts the public docs leave open (bucket assignment, duplicate merge)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.services.consumer import BatchIncomplete
from tests.support.helpers import CONTACT_ID, ghl_event, tagged
from tests.support.service import Service


def contacts_event(service: Service, n: int) -> list[str]:
    ids = []
    for i in range(n):
        cid = f"contact{i:03d}"
        service.post(tagged("cold lead", id=cid, phone=f"+1312555{i:04d}"))
        ids.append(cid)
    return ids


def test_transient_calltools_errors_are_retried_honouring_retry_after(service: Service):
    service.calltools.retry_after = 2
    service.calltools.script_faults(["502_html", "429", "500_json"])
    service.post(tagged("cold lead"))
    service.drain()
    assert service.in_bucket(CONTACT_ID)
    assert 2.0 in service.sleeps  # waited what Retry-After asked
    assert len(service.calltools.contacts()) == 1


def test_timeouts_are_retried(service: Service):
    service.calltools.timeout_seconds = 1.5  # longer than the client's 1 s timeout
    service.calltools.script_faults(["timeout"])
    service.post(tagged("cold lead"))
    service.drain()
    assert service.in_bucket(CONTACT_ID)


def lose_next_create_reply(
    service: Service, monkeypatch: pytest.MonkeyPatch, kind: str = "lost_reply", stall: float = 1.5
) -> None:
    """CallTools makes the next contact created, but its reply never arrives (client timeout):
    made at once ("lost_reply"), or only when the `stall` is over ("late_apply")."""
    service.calltools.timeout_seconds = stall  # longer than the client's 1 s timeout
    api = service.container.calltools
    create = api.create_contact

    def lose_the_reply(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(api, "create_contact", create)
        service.calltools.script_faults([kind])
        return create(*args, **kwargs)

    monkeypatch.setattr(api, "create_contact", lose_the_reply)


def test_a_create_whose_reply_is_lost_is_adopted_not_repeated(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    """CallTools made the contact but the reply never came: the retry finds it by phone."""
    lose_next_create_reply(service, monkeypatch)
    service.post(tagged("cold lead"))
    poller = service.drain()
    # Not a failed delivery: a write that may have been applied waits a moment, then the retry
    # finds what it made.
    assert poller.failed_invocations == 0 and service.calltools.fault_counts == {"lost_reply": 1}
    assert len(service.calltools.contacts()) == 1
    assert len(service.calltools.calls("POST", "/api/contacts/")) == 1
    assert service.in_bucket(CONTACT_ID)


def test_a_lost_create_followed_by_dnd_leaves_nothing_in_the_bucket(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    """What the lost reply made (in the bucket: the create carried it) must leave the dialler when
    the contact turns DND before the retry: the pending create is found by phone and undone."""
    contacts_event(service, 1)  # another contact first: the bucket method is known by then
    service.drain()
    lose_next_create_reply(service, monkeypatch)
    service.post(tagged("cold lead"))
    service.poller().poll_once(0)  # the create's reply is lost: the record fails
    mine = {c["id"] for c in service.calltools.contacts() if c["ghl_contact_id"] == CONTACT_ID}
    assert len(mine) == 1 and mine <= service.calltools.bucket_members(70412)
    service.ghl.set_dnd(CONTACT_ID, True)
    dnd = ghl_event("ContactDndUpdate", dnd=True)
    assert service.post(dnd).status_code == 200
    service.drain(retry_delay_seconds=4)
    assert not mine & service.calltools.bucket_members(70412)
    assert [e.action for e in service.calltools.membership_events if e.contact_id in mine] == [
        "add",
        "remove",
    ]
    assert mine == {
        c["id"] for c in service.calltools.contacts() if c["ghl_contact_id"] == CONTACT_ID
    }


def test_a_create_applied_after_the_client_gave_up_is_still_taken_out_on_dnd(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    """The create times out and CallTools applies it only 3 s later, bucket included. The DND
    that arrives meanwhile finds nothing by phone: it must wait (deferred) for the create to
    settle, not forget it, or the late contact would stay in the dialler."""
    monkeypatch.setattr(service.container.contact_sync._identity, "_settle", timedelta(seconds=6))
    deferred: list[int] = []
    requeue = service.container.queue.requeue

    def counted_requeue(body: str, delay_seconds: int) -> None:
        deferred.append(delay_seconds)
        requeue(body, delay_seconds)

    monkeypatch.setattr(service.container.queue, "requeue", counted_requeue)
    contacts_event(service, 1)  # another contact first: the bucket method is known by then
    service.drain()
    lose_next_create_reply(service, monkeypatch, kind="late_apply", stall=3.0)
    service.post(tagged("cold lead"))
    service.poller().poll_once(0)  # the client gives up after 1 s; nothing made yet
    assert not [c for c in service.calltools.contacts() if c["ghl_contact_id"] == CONTACT_ID]
    service.ghl.set_dnd(CONTACT_ID, True)
    assert service.post(ghl_event("ContactDndUpdate", dnd=True)).status_code == 200
    service.drain(retry_delay_seconds=4, deadline_seconds=60)
    deadline = time.monotonic() + 10  # the late create has certainly landed by then
    while not (mine := service.calltools_ids(CONTACT_ID)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mine) == 1
    assert not mine & service.calltools.bucket_members(70412)
    assert deferred  # the DND waited for the create to settle
    assert service.queue_depth() == 0 and not service.dlq_messages()


@pytest.mark.parametrize("report_batch_item_failures", [False, True])
def test_no_message_lost_under_either_response_configuration(
    service: Service, report_batch_item_failures: bool
):
    ids = contacts_event(service, 6)
    service.container.rulebook.resolved()  # a warm worker: the faults hit the sync
    # One record at a time: the scripted faults then exhaust one record's retries, in order.
    service.container.batch_consumer.records_at_once = 1
    # CallTools fails hard for a while: more 503s than one record's retry budget absorbs.
    service.calltools.script_faults(["503_html"] * 12)
    poller = service.poller(report_batch_item_failures=report_batch_item_failures)
    poller.drain(deadline_seconds=60)
    assert poller.failed_invocations >= 1  # the failure really happened
    assert all(service.in_bucket(cid) for cid in ids)
    assert service.calltools.bucket_add_count(70412) == 6
    assert len(service.calltools.contacts()) == 6
    assert service.queue_depth() == 0 and not service.dlq_messages()


def test_the_real_consumer_keeps_a_failed_record_without_report_batch_item_failures(
    service: Service,
):
    """Chalice's SQS trigger ignores a returned batchItemFailures: without the setting, Lambda
    deletes every record of a batch that returned. The real consumer must raise instead, having
    deleted its successes itself, so that only the failed record comes back."""
    first, second = contacts_event(service, 2)
    service.container.rulebook.resolved()  # a warm worker: the faults hit the sync
    service.container.batch_consumer.records_at_once = 1  # the faults meet the first record only
    service.calltools.script_faults(["503_html"] * 5)  # every attempt of the first record
    poller = service.poller(report_batch_item_failures=False)
    assert poller.poll_once(0) == 2
    assert poller.failed_invocations == 1  # the consumer raised
    assert service.queue_depth() == 1  # the failed record was kept; the success was deleted
    assert service.in_bucket(second) and not service.in_bucket(first)
    service.drain(report_batch_item_failures=False)
    assert service.in_bucket(first) and service.queue_depth() == 0 and not service.dlq_messages()
    assert len(service.calltools.contacts()) == 2


def test_consumer_raises_after_deleting_successes_so_only_failures_return(service: Service):
    from sandbox.poller import lambda_record

    contacts_event(service, 2)
    service.container.rulebook.resolved()  # a warm worker: the faults hit the sync
    service.container.batch_consumer.records_at_once = 1  # the faults meet the first record only
    service.calltools.script_faults(["503_html"] * 5)  # every attempt of the first record
    messages = service.container.sqs.receive_message(
        QueueUrl=service.resources.queue_url, MaxNumberOfMessages=10
    )["Messages"]
    arn = "arn:aws:sqs:us-east-1:123456789012:ghl-calltools-contacts"
    event = {"Records": [lambda_record(m, arn, "us-east-1") for m in messages]}
    with pytest.raises(BatchIncomplete) as raised:
        service.invoke(event)
    assert raised.value.failed_ids == [messages[0]["MessageId"]]
    assert service.queue_depth() == 1  # the success was deleted by the consumer itself


def test_undialable_number_goes_to_dlq_with_reason_and_failure_state(service: Service):
    service.calltools.undialable_prefixes = ("+1312555014",)
    service.post(tagged("cold lead"))
    service.drain()
    state = service.container.state_store.get(CONTACT_ID)
    assert state is not None and state.status == "failed" and "400" in (state.reason or "")
    dead = service.dlq_messages()
    assert len(dead) == 1
    reason = dead[0]["MessageAttributes"]["failure_reason"]["StringValue"]
    assert "dialable" in reason and "+1312" not in reason  # the number itself is masked
    assert service.queue_depth() == 0


def test_bucket_method_is_found_at_run_time(service: Service):
    service.calltools.bucket_method = "bucket_patch"  # the account only honours this one
    service.post(tagged("cold lead"))
    service.drain()
    assert service.in_bucket(CONTACT_ID)
    assert service.container.calltools.bucket_method == "bucket_patch"


def test_pinned_bucket_method_that_does_nothing_is_never_counted_as_success(service: Service):
    service.calltools.bucket_method = "contactbuckets"
    service.container.calltools._working_method = "contact_patch"  # as if pinned in settings
    service.post(tagged("cold lead"))
    poller = service.poller()
    poller.poll_once(0)
    assert poller.failed_invocations == 1 and service.queue_depth() == 1  # kept for retry
    state = service.container.state_store.get(CONTACT_ID)
    assert state is not None and not state.buckets


def test_duplicate_merge_reply_maps_to_the_merged_contact(service: Service):
    service.calltools.duplicate_mode = "merge"
    existing = service.calltools.seed_contact(
        {"mobile_phone_number": "+13125550147", "ghl_contact_id": "someone-else"}
    )
    service.post(tagged("cold lead"))
    service.drain()
    assert service.calltools_id(CONTACT_ID) == existing["id"]
    assert len(service.calltools.contacts()) == 1 and service.in_bucket(CONTACT_ID)


def test_existing_calltools_contact_is_adopted_not_duplicated(service: Service):
    existing = service.calltools.seed_contact({"mobile_phone_number": "+13125550147"})
    service.post(tagged("cold lead"))
    service.drain()
    assert service.calltools_id(CONTACT_ID) == existing["id"]
    assert len(service.calltools.contacts()) == 1


def test_ghl_429_on_reread_is_retried(service: Service):
    from tests.support.helpers import fixture

    service.ghl.upsert_contact(fixture("ghl/get-contact.json")["contact"])
    service.ghl.script_faults(["429", "502_html"])
    body = tagged("cold lead")
    del body["timestamp"]
    service.post(body)
    service.drain()
    assert service.in_bucket(CONTACT_ID)
