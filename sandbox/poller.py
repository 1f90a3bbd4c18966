"""Feeds SQS messages to the consumer the way Lambda's event source mapping does.

`chalice local` serves HTTP only. This poller receives batches, builds the Lambda SQS event and
applies the mapping's rules to the handler's outcome — with or without ReportBatchItemFailures,
so tests can prove that no message is lost under either setting.
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


class SqsPoller:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        report_batch_item_failures: bool = False,
        batch_size: int = 10,
        wait_seconds: int = 1,
        retry_delay_seconds: int = 1,
        function_timeout: float = 60.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
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
        self._thread: threading.Thread | None = None
        self.invocations = 0
        self.failed_invocations = 0

    def poll_once(self, wait_seconds: int | None = None) -> int:
        """One receive → invoke → settle cycle; returns how many messages were received."""
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
        event = {"Records": [lambda_record(m, self._queue_arn, self._region) for m in messages]}
        self.invocations += 1
        try:
            result = self._handler(event, LocalLambdaContext(timeout_seconds=self._timeout))
        except Exception as exc:
            # The invocation failed: Lambda deletes nothing; the batch reappears after the
            # visibility timeout (shortened here so a local retry takes seconds, not minutes).
            self.failed_invocations += 1
            if self._on_error:
                self._on_error(exc)
            self._release([m["ReceiptHandle"] for m in messages])
            return len(messages)
        keep: set[str] = set()
        if self.report_batch_item_failures and isinstance(result, dict):
            keep = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        # Without ReportBatchItemFailures a returned response is ignored: everything is deleted.
        self._delete([m["ReceiptHandle"] for m in messages if m["MessageId"] not in keep])
        self._release([m["ReceiptHandle"] for m in messages if m["MessageId"] in keep])
        return len(messages)

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

    def drain(self, deadline_seconds: float = 30.0) -> None:
        """Poll until the queue is empty (including in-flight retries and deferred copies still
        delayed) or the deadline passes."""
        end = time.monotonic() + deadline_seconds
        empty_readings = 0
        while time.monotonic() < end:
            if self.poll_once(wait_seconds=0):
                empty_readings = 0
                continue
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=list(PENDING_COUNTS)
            )["Attributes"]
            if any(int(attrs.get(name, "0")) for name in PENDING_COUNTS):
                empty_readings = 0
            else:
                # Twice, with a poll between: a copy whose delay ends at the first reading is
                # counted neither as delayed nor yet as visible by moto at that instant.
                empty_readings += 1
                if empty_readings == 2:
                    return
            time.sleep(0.05)
        raise TimeoutError("queue did not drain in time")

    def start(self) -> SqsPoller:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception as exc:  # keep polling; the stack prints the error
                    if self._on_error:
                        self._on_error(exc)
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name="sqs-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
