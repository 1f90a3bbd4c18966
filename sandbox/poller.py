"""Feeds SQS messages to the consumer the way Lambda's event source mapping does.

`chalice local` serves HTTP only. This poller receives batches, builds the Lambda SQS event and
applies the mapping's rules to the handler's outcome — with or without ReportBatchItemFailures,
so tests can prove that no message is lost under either setting.

With `workers` > 1 it runs that many consumers at once, as the mapping's maximum concurrency does:
each worker a thread of its own that receives a batch, invokes its handler with its own
LocalLambdaContext and settles the batch. Worker `i` invokes `handler_for(i)` when given, else the
one `handler`. Lambda gives each concurrent invocation a container of its own, so sharing one
wiring Container across the threads would not be the deployed system: its GHL and CallTools
clients pace at 1/CONSUMER_MAX_CONCURRENCY of each API's rate (N threads on one client would make
the whole consumer 1/N as fast), its ContactSync is one lease owner (two threads would both "hold" a
contact's lease), and its idempotency config holds one invocation's context.
sandbox/containers.py gives each worker a Container of its own; the local stack and the bench use it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef


# Every message the queue still holds: visible, in flight, or sent with a delay not yet over.
PENDING_COUNTS: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass
class LocalLambdaContext:
    """What handlers read from Lambda's context object."""

    function_name: str = "sync_contacts"
    timeout_seconds: float = 60.0
    memory_limit_in_mb: int = 512

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {"stringValue": attr.get("StringValue"), "dataType": attr["DataType"]}
            for name, attr in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


Handler = Callable[[dict[str, Any], LocalLambdaContext], Any]
IDLE_SECONDS = 0.05  # between a drain's readings of the queue


class SqsPoller:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        workers: int = 1,
        handler_for: Callable[[int], Handler] | None = None,
        report_batch_item_failures: bool = False,
        batch_size: int = 10,
        wait_seconds: int = 1,
        retry_delay_seconds: int = 1,
        function_timeout: float = 60.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._handler_for = handler_for
        self.workers = workers
        self.report_batch_item_failures = report_batch_item_failures
        self._batch_size = batch_size
        self._wait = wait_seconds
        self._retry_delay = retry_delay_seconds
        self._timeout = function_timeout
        self._on_error = on_error
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attrs["Attributes"]["QueueArn"]
        self._region = self._queue_arn.split(":")[3]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._receiving = threading.Lock()
        self._holding = 0  # workers between receiving a non-empty batch and settling it
        self._batches = 0  # non-empty batches received so far
        self.invocations = 0
        self.failed_invocations = 0
        self.peak_concurrency = 0  # the most batches held at once

    def poll_once(self, wait_seconds: int | None = None, worker: int = 0) -> int:
        """One receive → invoke → settle cycle; returns how many messages were received."""
        # One receive at a time: moto's receive is not atomic, and concurrent ones can mark a
        # message in flight that no reply carries (it then hides for the visibility timeout).
        with self._receiving:
            reply = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._batch_size,
                WaitTimeSeconds=self._wait if wait_seconds is None else wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        with self._lock:
            self._holding += 1
            self._batches += 1
            self.invocations += 1
            self.peak_concurrency = max(self.peak_concurrency, self._holding)
        try:
            self._invoke_and_settle(messages, worker)
        finally:
            with self._lock:
                self._holding -= 1
        return len(messages)

    def _invoke_and_settle(self, messages: list[MessageTypeDef], worker: int) -> None:
        event = {"Records": [lambda_record(m, self._queue_arn, self._region) for m in messages]}
        handler = self._handler_for(worker) if self._handler_for else self._handler
        try:
            result = handler(event, LocalLambdaContext(timeout_seconds=self._timeout))
        except Exception as exc:
            # The invocation failed: Lambda deletes nothing; the batch reappears after the
            # visibility timeout (shortened here so a local retry takes seconds, not minutes).
            with self._lock:
                self.failed_invocations += 1
            if self._on_error:
                self._on_error(exc)
            self._release([m["ReceiptHandle"] for m in messages])
            return
        keep: set[str] = set()
        if self.report_batch_item_failures and isinstance(result, dict):
            keep = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        # Without ReportBatchItemFailures a returned response is ignored: everything is deleted.
        self._delete([m["ReceiptHandle"] for m in messages if m["MessageId"] not in keep])
        self._release([m["ReceiptHandle"] for m in messages if m["MessageId"] in keep])

    def _delete(self, handles: list[str]) -> None:
        for handle in handles:
            with contextlib.suppress(ClientError):  # already deleted by the consumer itself
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=handle)

    def _release(self, handles: list[str]) -> None:
        for handle in handles:
            with contextlib.suppress(ClientError):  # deleted by the consumer: it succeeded
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=handle,
                    VisibilityTimeout=self._retry_delay,
                )

    def _pending(self) -> bool:
        attrs = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=list(PENDING_COUNTS)
        )["Attributes"]
        return any(int(attrs.get(name, "0")) for name in PENDING_COUNTS)

    def _quiet(self) -> bool:
        """The queue holds nothing and no worker held a batch while it was read: one worker may
        delete its message before it sends what follows (a deferred copy, the run's next step)."""
        with self._lock:
            holding, batches = self._holding, self._batches
        if holding or self._pending():
            return False
        with self._lock:
            return self._batches == batches

    def drain(self, deadline_seconds: float = 30.0) -> None:
        """Poll until the queue is empty (including in-flight retries and deferred copies still
        delayed) and no worker holds a batch, or raise when the deadline passes."""
        end = time.monotonic() + deadline_seconds
        if self.workers == 1:  # in the caller's thread, as the tests' handlers expect
            self._drain_until(end, lambda: self.poll_once(wait_seconds=0) > 0)
            return
        stop = threading.Event()
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            while not stop.is_set():
                try:
                    # Long polls, as the event source mapping's: idle workers that asked every
                    # few milliseconds would load the moto server the product's calls also wait on.
                    self.poll_once(wait_seconds=1, worker=worker)
                except Exception as exc:  # the receive or the settling failed: drain raises it
                    errors.append(exc)
                    stop.set()

        threads = [
            threading.Thread(target=work, args=(i,), name=f"sqs-drain-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            self._drain_until(end, lambda: False, errors)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=self._timeout + 5)
        if errors:
            raise errors[0]

    def _drain_until(
        self, end: float, poll: Callable[[], bool], errors: list[BaseException] | None = None
    ) -> None:
        quiet_readings = 0
        while time.monotonic() < end and not errors:
            if poll():
                quiet_readings = 0
                continue
            if not self._quiet():
                quiet_readings = 0
            else:
                # Twice, with a poll between: a copy whose delay ends at the first reading is
                # counted neither as delayed nor yet as visible by moto at that instant.
                quiet_readings += 1
                if quiet_readings == 2:
                    return
            time.sleep(IDLE_SECONDS)
        if not errors:
            raise TimeoutError("queue did not drain in time")

    def start(self) -> SqsPoller:
        """Poll in the background, `workers` consumers at once, until stop()."""

        def loop(worker: int) -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once(worker=worker)
                except Exception as exc:  # keep polling; the stack prints the error
                    if self._on_error:
                        self._on_error(exc)
                    self._stop.wait(1.0)

        self._threads = [
            threading.Thread(target=loop, args=(i,), name=f"sqs-poller-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
