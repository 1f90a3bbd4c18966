"""A small chaos run (the full one is `make chaos`): duplicates, reordering, failing APIs and a
consumer killed mid-batch, then one reconciliation. The end state must equal GHL's desired state,
with no duplicate CallTools contact, nothing lost, and no DND contact in a bucket at any point."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.events import utcnow
from tests.conftest import Service
from tests.helpers import ghl_event

BUCKET = 70412
# `make chaos` runs the full size (2,000 contacts × 5 changes + 30% duplicates ≈ 13,000 deliveries).
CONTACTS = int(os.environ.get("CHAOS_CONTACTS", "40"))
DEADLINE = max(240.0, CONTACTS * 1.5)
POISON_PREFIX = "+1415555019"  # CallTools rejects these numbers as undialable (permanent)


class Killed(BaseException):
    """Stands in for the Lambda runtime dying: not an Exception, so no handler cleans up."""


def timeline(rng: random.Random, cid: str, phone: str) -> list[dict[str, Any]]:
    """Five changes to one contact, oldest first: tags and call DND flip at random."""
    start = utcnow() - timedelta(minutes=30)
    events = []
    for step in range(5):
        at = start + timedelta(minutes=step, seconds=rng.random())
        tagged, dnd = rng.random() < 0.7, rng.random() < 0.25
        tags = ["facebook lead", "cold lead"] if tagged else ["facebook lead"]
        kind = "ContactDndUpdate" if dnd or rng.random() < 0.3 else "ContactTagUpdate"
        event = ghl_event(kind, at=at, id=cid, phone=phone, tags=tags, dnd=dnd)
        if kind == "ContactDndUpdate":
            status = "active" if dnd else "inactive"
            event["dndSettings"] = {"Call": {"status": status, "message": "", "code": ""}}
        events.append(event)
    return events


def deliveries(rng: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """30% duplicated, then about 20% swapped with a neighbour."""
    out = list(events) + [e for e in events if rng.random() < 0.3]
    rng.shuffle(out)  # different contacts interleave freely
    return out


def chaotic(service: Service, rng: random.Random) -> Iterator[None]:
    """Kill the consumer mid-record now and then: a CallTools call never returns."""
    calltools = service.container.calltools
    original = calltools.set_bucket_membership

    def sometimes_die(contact_id: int, bucket_id: int, member: bool) -> None:
        if rng.random() < 0.05:
            raise Killed()
        original(contact_id, bucket_id, member)

    calltools.set_bucket_membership = sometimes_die  # type: ignore[method-assign]
    yield
    calltools.set_bucket_membership = original  # type: ignore[method-assign]


@pytest.mark.parametrize("report_batch_item_failures", [False, True])
def test_chaos_converges(
    service: Service, monkeypatch: pytest.MonkeyPatch, report_batch_item_failures: bool
):
    rng = random.Random(7)
    monkeypatch.setattr(service.container.contact_sync, "_lease", timedelta(seconds=1))
    service.calltools.undialable_prefixes = (POISON_PREFIX,)
    contacts = {f"chaos{i:04d}": f"+1312555{i:04d}" for i in range(CONTACTS)}
    poisoned = {f"poison{i}": f"{POISON_PREFIX}{i}" for i in range(3)}
    events = [
        e for cid, phone in {**contacts, **poisoned}.items() for e in timeline(rng, cid, phone)
    ]
    for cid, phone in poisoned.items():  # poisoned contacts end tagged and dialable: they must fail
        last = ghl_event("ContactTagUpdate", id=cid, phone=phone, tags=["cold lead"], dnd=False)
        events.append(last)
    for event in deliveries(rng, events):
        assert service.post(event).status_code == 200

    service.calltools.set_fault_rate(0.1, kinds=["500_json", "502_html", "503_html", "429"], seed=3)
    service.ghl.set_fault_rate(0.1, kinds=["429"], seed=4)
    # A failed batch comes back after a pause, as after a visibility timeout: long enough for a
    # killed worker's contact lease (1 s here) and in-flight dedup record (the 3 s test context)
    # to expire. With no pause at all, SQS's own redrive would dead-letter healthy messages.
    poller = service.poller(
        report_batch_item_failures=report_batch_item_failures, retry_delay_seconds=4
    )

    def invoke(event: dict[str, Any], context: Any) -> Any:
        try:
            return service.invoke(event)
        except Killed as exc:  # the runtime died: the batch returns to the queue whole
            raise RuntimeError("consumer killed") from exc

    poller._handler = invoke
    for _ in chaotic(service, rng):
        poller.drain(deadline_seconds=DEADLINE)
    service.calltools.clear_faults()
    service.ghl.clear_faults()

    run = service.admin("post", "/sync/trigger", {"mode": "reconcile"})
    assert run.status_code == 202
    service.drain(deadline_seconds=DEADLINE)

    # End state: exactly GHL's desired members, one CallTools contact per GHL contact.
    desired = set()
    for cid in contacts:
        data = service.ghl.contact(cid)
        assert data is not None
        dnd = (
            data.get("dnd") or data.get("dndSettings", {}).get("Call", {}).get("status") == "active"
        )
        if "cold lead" in data["tags"] and not dnd:
            desired.add(cid)
    by_ghl: dict[str, list[int]] = {}
    for c in service.calltools.contacts():
        by_ghl.setdefault(str(c.get("ghl_contact_id")), []).append(c["id"])
    assert all(len(ids) == 1 for ids in by_ghl.values()), "duplicate CallTools contact"
    members = service.calltools.bucket_members(BUCKET)
    actual = {g for g, ids in by_ghl.items() if ids[0] in members}
    assert actual == desired
    # GHL's data was final before the first delivery: no contact it has as DND (or untagged)
    # was ever added to the bucket, even for a moment.
    ghl_of = {ids[0]: g for g, ids in by_ghl.items()}
    added = {ghl_of[e.contact_id] for e in service.calltools.membership_events if e.action == "add"}
    assert added <= desired

    # Nothing lost, and only the poisoned contacts dead-lettered, each with its reason.
    assert service.queue_depth() == 0
    dead = []
    while batch := service.dlq_messages():
        dead += batch
        for m in batch:
            service.container.sqs.delete_message(
                QueueUrl=service.resources.dlq_url, ReceiptHandle=m["ReceiptHandle"]
            )
    reasons = {m["MessageAttributes"]["failure_reason"]["StringValue"] for m in dead}
    assert dead and all("dialable" in r for r in reasons)
    assert {m["Body"].split('"contact_id":"')[1].split('"')[0] for m in dead} <= set(poisoned)
