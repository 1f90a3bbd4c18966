"""The consumer dispatches each record by its message kind: a contact message to the contact sync,
a reconcile step to the run, and anything else to the DLQ as invalid."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from chalicelib.services.consumer import BatchConsumer
from tests.support.fakes import FakeDedup, FakeQueue
from tests.support.helpers import LOCATION_ID, sqs_record


class RecordingSync:
    """Stands in for ContactSync: notes the contacts it is asked to sync, changes nothing."""

    def __init__(self) -> None:
        self.contact_ids: list[str] = []

    def sync(self, message: Any) -> Any:
        self.contact_ids.append(message.contact_id)
        return SimpleNamespace(as_dict=lambda: {"result": "unchanged"})


def consumer(
    run_step: Callable[[str, Callable[[], float], float], object] | None = None,
) -> tuple[BatchConsumer, RecordingSync, FakeQueue]:
    sync, queue = RecordingSync(), FakeQueue()
    built = BatchConsumer(
        cast(Any, sync), FakeDedup(), queue, time_reserve_ms=1000, run_step=run_step
    )
    return built, sync, queue


def contact_body(**extra: Any) -> str:
    return json.dumps(
        {
            "origin": "workflow",
            "contact_id": "c1",
            "location_id": LOCATION_ID,
            "received_at": "2024-05-01T12:00:00+00:00",
            **extra,
        }
    )


def forever() -> float:
    return 60_000


def test_a_message_with_or_without_the_contact_kind_is_synced():
    steps: list[str] = []
    built, sync, queue = consumer(lambda run_id, *_: steps.append(run_id))
    records = [sqs_record(contact_body()), sqs_record(contact_body(kind="contact"))]
    assert built.handle(records, forever) == {"batchItemFailures": []}
    assert sync.contact_ids == ["c1", "c1"]
    assert [o["result"] for o in built.outcomes] == ["unchanged", "unchanged"]
    assert steps == [] and queue.dead == []
    assert sorted(queue.deleted) == sorted(r["receiptHandle"] for r in records)


def test_a_reconcile_step_runs_its_run_and_syncs_no_contact():
    calls: list[tuple[str, float]] = []

    def run_step(run_id: str, remaining: Callable[[], float], reserve_ms: float) -> None:
        calls.append((run_id, reserve_ms))

    built, sync, queue = consumer(run_step)
    record = sqs_record(json.dumps({"kind": "reconcile_step", "run_id": "run_1"}))
    built.handle([record], forever)
    assert calls == [("run_1", 1000)]
    assert built.outcomes == [{"result": "reconcile_step", "run_id": "run_1"}]
    assert sync.contact_ids == [] and queue.dead == []
    assert queue.deleted == [record["receiptHandle"]]


def test_without_a_run_step_a_reconcile_step_is_dead_lettered_as_invalid():
    built, sync, queue = consumer()
    record = sqs_record(json.dumps({"kind": "reconcile_step", "run_id": "run_1"}))
    built.handle([record], forever)
    assert sync.contact_ids == []
    assert len(queue.dead) == 1 and queue.dead[0][1].startswith("invalid message")
    assert built.outcomes[0]["result"] == "failed"
    assert queue.deleted == [record["receiptHandle"]]


def test_a_kind_without_a_handler_is_dead_lettered_as_invalid():
    steps: list[str] = []
    built, sync, queue = consumer(lambda run_id, *_: steps.append(run_id))
    records = [
        sqs_record(contact_body(kind="call_outcome")),
        sqs_record("not json"),
        sqs_record(json.dumps(["a", "list"])),
    ]
    built.handle(records, forever)
    assert sync.contact_ids == [] and steps == []
    assert [reason.startswith("invalid message") for _, reason in queue.dead] == [True] * 3
    assert [o["result"] for o in built.outcomes] == ["failed"] * 3
    assert sorted(queue.deleted) == sorted(r["receiptHandle"] for r in records)
