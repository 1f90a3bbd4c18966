"""The local stand-in for Lambda's event source mapping (sandbox/poller.py) with several workers,
and the wiring Container each worker gets (sandbox/containers.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from chalicelib.runtime import wiring
from chalicelib.runtime.settings import Settings
from sandbox.containers import LambdaContainers
from sandbox.poller import PENDING_COUNTS, LocalLambdaContext, SqsPoller
from tests.support.helpers import use_moto_env

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEADLINE = 20.0


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SQSClient]:
    import boto3

    use_moto_env(monkeypatch)
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queue(sqs: SQSClient) -> str:
    return sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]


def send(sqs: SQSClient, url: str, *bodies: str, delay: int = 0) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=delay)


def depth(sqs: SQSClient, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(PENDING_COUNTS))
    return sum(int(v) for v in attrs["Attributes"].values())


def bodies(event: dict[str, Any]) -> list[str]:
    return [r["body"] for r in event["Records"]]


def test_three_workers_hold_three_batches_at_once(sqs: SQSClient, queue: str) -> None:
    # Each of the first three invocations waits until all three are in flight: with fewer
    # consumers at once the barrier times out, the invocation fails and the test says so.
    barrier = threading.Barrier(3, timeout=DEADLINE)
    seen: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
        with lock:
            first_three = len(seen) < 3
            seen.extend(bodies(event))
        if first_three:
            barrier.wait()

    send(sqs, queue, *(f"m{i}" for i in range(9)))
    poller = SqsPoller(sqs, queue, handler, workers=3, batch_size=1)
    poller.drain(DEADLINE)
    assert poller.failed_invocations == 0 and not barrier.broken
    assert poller.peak_concurrency == 3
    assert sorted(seen) == sorted(f"m{i}" for i in range(9))
    assert depth(sqs, queue) == 0


def test_each_worker_invokes_its_own_handler(sqs: SQSClient, queue: str) -> None:
    barrier = threading.Barrier(2, timeout=DEADLINE)
    workers_seen: set[int] = set()

    def handler_for(worker: int) -> Any:
        def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
            workers_seen.add(worker)
            barrier.wait()  # both workers busy at once: neither can take every batch

        return handler

    send(sqs, queue, "a", "b")
    poller = SqsPoller(
        sqs, queue, lambda e, c: None, workers=2, batch_size=1, handler_for=handler_for
    )
    poller.drain(DEADLINE)
    assert workers_seen == {0, 1} and poller.failed_invocations == 0


def test_drain_with_several_workers_waits_for_retries_and_chains(
    sqs: SQSClient, queue: str
) -> None:
    """Failed invocations come back after the retry delay; a handled message may send a delayed
    follow-up (as a reconciliation step queues the next). Drain returns only when all is done."""
    done: list[str] = []
    failed_once: set[str] = set()
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
        for body in bodies(event):
            kind, _, n = body.partition(":")
            with lock:
                if kind == "flaky" and body not in failed_once:
                    failed_once.add(body)
                    raise RuntimeError("first attempt fails")
                done.append(body)
            if kind == "chain" and int(n) > 0:
                send(sqs, queue, f"chain:{int(n) - 1}", delay=1)

    send(sqs, queue, *(f"flaky:{i}" for i in range(4)), *(f"plain:{i}" for i in range(6)))
    send(sqs, queue, "chain:2")
    poller = SqsPoller(sqs, queue, handler, workers=3, batch_size=2, retry_delay_seconds=1)
    poller.drain(DEADLINE)
    expected = {f"flaky:{i}" for i in range(4)} | {f"plain:{i}" for i in range(6)}
    expected |= {"chain:2", "chain:1", "chain:0"}
    assert set(done) == expected
    assert poller.failed_invocations >= 1
    assert depth(sqs, queue) == 0


def test_drain_does_not_return_while_a_worker_holds_a_batch(sqs: SQSClient, queue: str) -> None:
    """A consumer deletes a finished record before it sends what follows (a deferred copy, the
    next step): while it holds its batch the queue may read empty, and drain must not return."""
    gap_open = threading.Event()
    quiet_checks_in_gap = threading.Semaphore(0)
    done: list[str] = []

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
        for record in event["Records"]:
            done.append(record["body"])
            if record["body"] == "first":
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=record["receiptHandle"])
                gap_open.set()
                for _ in range(3):  # the queue is empty now: let drain look at it, 3 times
                    assert quiet_checks_in_gap.acquire(timeout=DEADLINE)
                send(sqs, queue, "second")

    poller = SqsPoller(sqs, queue, handler, workers=2)
    quiet = poller._quiet

    def counted_quiet() -> bool:
        answer = quiet()
        if gap_open.is_set():
            quiet_checks_in_gap.release()
        return answer

    poller._quiet = counted_quiet  # type: ignore[method-assign]
    send(sqs, queue, "first")
    poller.drain(DEADLINE)
    assert done == ["first", "second"]
    assert depth(sqs, queue) == 0


def test_drain_raises_when_the_deadline_passes(sqs: SQSClient, queue: str) -> None:
    def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
        raise RuntimeError("never succeeds: the message keeps coming back")

    send(sqs, queue, "poison")
    poller = SqsPoller(sqs, queue, handler, workers=2, retry_delay_seconds=0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        poller.drain(deadline_seconds=1.0)
    assert poller.failed_invocations >= 1 and time.monotonic() - started < DEADLINE


def test_start_runs_the_workers_in_the_background_until_stop(sqs: SQSClient, queue: str) -> None:
    barrier = threading.Barrier(2, timeout=DEADLINE)
    handled = threading.Semaphore(0)

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> None:
        barrier.wait()
        handled.release()

    poller = SqsPoller(sqs, queue, handler, workers=2, batch_size=1).start()
    try:
        send(sqs, queue, "a", "b")
        assert handled.acquire(timeout=DEADLINE) and handled.acquire(timeout=DEADLINE)
    finally:
        poller.stop()
    assert poller.peak_concurrency == 2 and poller.failed_invocations == 0


def test_each_worker_container_is_its_own_and_only_inside_its_invocations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_moto_env(monkeypatch)
    shared = wiring.reset(Settings())

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> Any:
        return wiring.container()

    containers = LambdaContainers(handler, 3, shared.settings)
    answers = [containers.handler(i)({}, LocalLambdaContext()) for i in range(3)]
    assert answers == containers.containers
    assert len({id(c) for c in answers}) == 3 and shared not in answers
    assert len({c.contact_sync._lease.owner for c in answers}) == 3  # one lease owner each
    assert wiring.container() is shared  # outside an invocation, the process's own
    wiring.reset()
