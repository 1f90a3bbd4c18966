"""The CallTools hook route's rules, the catch-up, and the consumer's outcome handlers, over fakes."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import PermanentError
from chalicelib.domain.messages import CatchUpStep, OutcomeMessage, ReconcileStep
from chalicelib.domain.outcome_state import OutcomeState
from chalicelib.domain.outcomes import CallRecord
from chalicelib.domain.runs import Run
from chalicelib.services.consumer import BatchConsumer
from chalicelib.services.outcomes.catchup import OutcomeCatchUp
from chalicelib.services.outcomes.handlers import outcome_handlers
from chalicelib.services.outcomes.intake import MAX_HOOK_BYTES, HookIntake
from chalicelib.services.outcomes.runs import RunsWithCatchUp
from tests.support.fake_outcomes import FakeCallOutcomes, FakeOutcomeStore
from tests.support.fakes import FakeCallTools, FakeDedup, FakeQueue
from tests.support.worlds import sync_over_fakes

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SECRET = "s3cret-hook-token"
BODY = json.dumps({"id": 9120457, "contact": 48213907, "disposition": 61003}).encode()


def intake(queue: FakeQueue, secret: str = SECRET) -> HookIntake:
    return HookIntake(queue, secret=secret, clock=lambda: NOW)


def test_a_hook_with_the_token_enqueues_only_the_record_id():
    queue = FakeQueue()
    answer = intake(queue).handle(BODY, {}, {"token": SECRET})
    assert answer.status == 200
    assert queue.sent == [OutcomeMessage(origin="hook", record_id=9120457, received_at=NOW)]


def test_the_secret_may_come_as_a_header():
    queue = FakeQueue()
    assert intake(queue).handle(BODY, {"X-Webhook-Secret": SECRET}, None).status == 200


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"token": "wrong"}, {}),
        (None, {}),
        ({"token": SECRET[:-1]}, {}),
        ({}, {"X-Webhook-Secret": "nope"}),
    ],
)
def test_a_wrong_or_missing_token_is_401_and_enqueues_nothing(
    query: dict[str, str] | None, headers: dict[str, str]
):
    queue = FakeQueue()
    answer = intake(queue).handle(BODY, headers, query)
    assert answer.status == 401 and queue.sent == []


def test_without_a_configured_secret_every_hook_is_refused():
    queue = FakeQueue()
    answer = intake(queue, secret="").handle(BODY, {}, {"token": ""})
    assert answer.status == 401 and "CALLTOOLS_WEBHOOK_SECRET" in answer.body["reason"]
    assert queue.sent == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": "9"}',
        b'{"id": true}',
        b'{"id": 0}',
        b'{"id": -3}',
        b"{}",
        b'{"id": 1e3}',
        b'{"id": 99999999999999999999999}',
        b"\xff\xfe",
    ],
)
def test_a_body_naming_no_record_is_400(body: bytes):
    queue = FakeQueue()
    answer = intake(queue).handle(body, {}, {"token": SECRET})
    assert answer.status == 400 and queue.sent == []


def test_an_oversized_body_is_413_and_a_queue_failure_503():
    queue = FakeQueue()
    assert intake(queue).handle(b" " * (MAX_HOOK_BYTES + 1), {}, {"token": SECRET}).status == 413
    queue.fail_send = True
    assert intake(queue).handle(BODY, {}, {"token": SECRET}).status == 503


# --- the catch-up ------------------------------------------------------------------------------
def record(record_id: int, created_on: str = "2026-11-29 11:00:00") -> CallRecord:
    return CallRecord(id=record_id, contact=1, disposition=61003, created_on=created_on)


def catch_up_world(
    ids: list[int], limit: int = 100
) -> tuple[OutcomeCatchUp, FakeOutcomeStore, FakeQueue]:
    ct = FakeCallOutcomes(records={i: record(i) for i in ids})
    store, queue = FakeOutcomeStore(), FakeQueue()
    return OutcomeCatchUp(ct, store, queue, limit=limit, clock=lambda: NOW), store, queue


def test_the_first_catch_up_looks_back_one_day_only():
    catch_up, store, queue = catch_up_world([])
    ct = FakeCallOutcomes(records={5: record(5, "2026-11-27 09:00:00"), 6: record(6), 7: record(7)})
    catch_up = OutcomeCatchUp(ct, store, queue, clock=lambda: NOW)
    assert catch_up.run().queued == 2
    assert [m.record_id for m in queue.sent if isinstance(m, OutcomeMessage)] == [6, 7]
    assert store.checkpoint() == 7


def test_a_first_catch_up_with_nothing_to_do_keeps_looking_back():
    catch_up, store, _ = catch_up_world([])
    assert catch_up.run().checkpoint == 0 and store.checkpoint() == 0


def test_a_catch_up_queues_what_came_since_and_skips_what_is_done():
    catch_up, store, queue = catch_up_world([5, 6, 7, 8, 9])
    store.advance_checkpoint(6)
    store.items[8] = OutcomeState(record_id=8, status="applied")
    result = catch_up.run()
    assert [m.record_id for m in queue.sent if isinstance(m, OutcomeMessage)] == [7, 9]
    assert result.checkpoint == 9 and store.checkpoint() == 9


def test_a_limited_catch_up_takes_the_oldest_and_leaves_the_rest_for_the_next():
    catch_up, store, queue = catch_up_world(list(range(1, 12)), limit=4)
    store.advance_checkpoint(2)
    first = catch_up.run()
    assert first.more and store.checkpoint() == 6
    catch_up.run()
    catch_up.run()
    queued = [m.record_id for m in queue.sent if isinstance(m, OutcomeMessage)]
    assert queued == list(range(3, 12))


def test_a_catch_up_that_cannot_queue_keeps_its_checkpoint():
    catch_up, store, queue = catch_up_world([5, 6, 7])
    store.advance_checkpoint(5)
    queue.fail_send = True
    with pytest.raises(RuntimeError):
        catch_up.run()
    assert store.checkpoint() == 5


def test_a_run_queues_the_catch_up_first_even_when_the_run_cannot_start():
    queue = FakeQueue()

    class Busy:
        def start(self, mode: Any = "reconcile", trigger: str = "manual") -> Run:
            raise RuntimeError("a run is active")

    with pytest.raises(RuntimeError):
        RunsWithCatchUp(lambda: Busy(), queue, clock=lambda: NOW).start()
    assert queue.sent == [CatchUpStep(requested_at=NOW)]


def test_without_outcomes_switched_on_a_run_queues_no_catch_up():
    queue, started = FakeQueue(), []

    class Runs:
        def start(self, mode: Any = "reconcile", trigger: str = "manual") -> Run:
            started.append(mode)
            return Run(id="r", mode=mode, trigger=trigger, started_at=NOW, heartbeat_at=NOW)

    RunsWithCatchUp(lambda: Runs(), queue, clock=lambda: NOW, enabled=False).start()
    assert queue.sent == [] and started == ["reconcile"]


# --- the consumer's handlers -------------------------------------------------------------------
def sqs(body: str, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def consumer(apply: Any, caught: list[int], queue: FakeQueue) -> BatchConsumer:
    handlers = outcome_handlers(apply, lambda: caught.append(1), queue)
    return BatchConsumer(
        sync_over_fakes(FakeCallTools()),
        FakeDedup(),
        queue,
        time_reserve_ms=0,
        more_handlers=handlers,
    )


def test_the_consumer_applies_outcomes_and_runs_the_catch_up():
    queue = FakeQueue()
    caught: list[int] = []
    applied: list[int] = []

    def apply(message: OutcomeMessage) -> dict[str, Any]:
        applied.append(message.record_id)
        return {"result": "outcome", "status": "applied"}

    batch = [
        sqs(OutcomeMessage(origin="hook", record_id=7, received_at=NOW).model_dump_json(), "a"),
        sqs(CatchUpStep(requested_at=NOW).model_dump_json(), "b"),
    ]
    consumer(apply, caught, queue).handle(batch, lambda: 900_000)
    assert applied == [7] and caught == [1]
    assert sorted(queue.deleted) == ["rh-a", "rh-b"]


def test_an_invalid_outcome_message_or_a_refused_write_is_dead_lettered():
    queue = FakeQueue()

    def apply(message: OutcomeMessage) -> dict[str, Any]:
        raise PermanentError("GHL 422")

    good = OutcomeMessage(origin="hook", record_id=7, received_at=NOW).model_dump_json()
    batch = [sqs('{"kind": "outcome", "record_id": "x"}', "a"), sqs(good, "b")]
    consumer(apply, [], queue).handle(batch, lambda: 900_000)
    assert len(queue.dead) == 2 and sorted(queue.deleted) == ["rh-a", "rh-b"]


def test_other_messages_still_reach_their_own_handlers():
    queue = FakeQueue()
    body = ReconcileStep(run_id="r-1").model_dump_json()
    c = consumer(lambda m: {}, [], queue)
    c.handle([sqs(body)], lambda: 900_000)  # no run_step: dead-lettered as an invalid contact
    assert queue.dead and queue.dead[0][0] == body


def test_the_catch_up_queues_a_record_that_was_unknown_when_its_id_first_came():
    """A forged hook (or one read too early) left the id "unknown": CallTools now lists the
    record, so the catch-up must queue it, not skip it as done."""
    ct, store, queue = FakeCallOutcomes(), FakeOutcomeStore(), FakeQueue()
    store.mark = 100
    held = store.acquire(101, "w", NOW, NOW)
    store.save(held.model_copy(update={"status": "unknown"}))
    ct.records[101] = CallRecord(id=101, contact=1, disposition=61003)
    result = OutcomeCatchUp(ct, store, queue, clock=lambda: NOW).run()
    assert result.queued == 1
    assert [m.record_id for m in queue.sent if isinstance(m, OutcomeMessage)] == [101]


# --- review (issue 14): odd tokens and secrets -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"token": "\udc80"}, {}),  # a lone surrogate (an undecodable %-escape)
        ({}, {"X-Webhook-Secret": "\ud800x"}),
        ({"token": "\udc80"}, {"X-Webhook-Secret": SECRET}),  # one odd, one right
    ],
)
def test_a_token_that_is_not_valid_text_is_refused_or_checked_never_an_error(
    query: dict[str, str], headers: dict[str, str]
):
    queue = FakeQueue()
    answer = intake(queue).handle(BODY, headers, query)  # never raises: that would be a 503
    right = headers.get("X-Webhook-Secret") == SECRET
    assert answer.status == (200 if right else 401)
    assert len(queue.sent) == (1 if right else 0)


@pytest.mark.parametrize("secret", [" ", "  \t", "\n"])
def test_a_blank_secret_leaves_hooks_off_whatever_the_token(secret: str):
    queue = FakeQueue()
    answer = intake(queue, secret=secret).handle(BODY, {}, {"token": secret})
    assert answer.status == 401 and queue.sent == []
    assert "CALLTOOLS_WEBHOOK_SECRET" in answer.body["reason"]


@pytest.mark.parametrize(("secret", "on"), [("", False), ("  ", False), ("s3cret", True)])
def test_the_catch_up_is_on_only_where_hooks_are(secret: str, on: bool):
    """The runs queue the catch-up exactly where the route accepts hooks (a blank secret is
    none): never writes to GHL from the nightly run while every hook is refused."""
    from types import SimpleNamespace

    from chalicelib.runtime.outcome_wiring import OutcomeWiring
    from chalicelib.runtime.settings import Settings

    queue = FakeQueue()
    container: Any = SimpleNamespace(
        settings=Settings(calltools_webhook_secret=secret), queue=queue, reconciler=None
    )
    runs = OutcomeWiring(container).runs
    with contextlib.suppress(Exception):  # no reconciler here: only the catch-up matters
        runs.start()
    assert bool(queue.sent) is on
