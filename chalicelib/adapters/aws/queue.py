"""The contact queue on SQS, and its dead-letter queue for messages that cannot succeed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.domain.messages import QueueMessage
from chalicelib.runtime.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def wire_body(message: QueueMessage) -> str:
    """JSON in ASCII: SQS refuses some characters (U+FFFF, lone surrogates) that a contact's
    name may hold, and an escaped form of them always passes."""
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))


class SqsContactQueue:
    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        dlq_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self._clock = clock  # for redrive's time limit

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        reply = self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=wire_body(message),
            DelaySeconds=max(0, min(900, delay_seconds)),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": message.kind}},
        )
        return reply["MessageId"]

    def send_many(self, messages: Sequence[QueueMessage]) -> int:
        calls = 0
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            reply = self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": wire_body(m)} for i, m in enumerate(chunk)],
            )
            calls += 1
            if reply.get("Failed"):
                raise RuntimeError(f"SQS refused {len(reply['Failed'])} of {len(chunk)} messages")
        return calls

    def depth(self) -> int:
        attrs = self._client.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def dlq_depth(self) -> int:
        if not self.dlq_url:
            return 0
        attrs = self._client.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def delete(self, receipt_handles: Sequence[str]) -> None:
        """Delete processed messages ourselves, so success never depends on the batch response."""
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            reply = self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            if reply.get("Failed"):
                # Harmless: the message comes back and the dedup record answers for it (or, for
                # a deferred one, the contact's state makes the second run a no-op).
                logger.warning("some deletes failed", extra={"failed": len(reply["Failed"])})

    def requeue(self, body: str, delay_seconds: int) -> None:
        self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=max(0, min(900, delay_seconds)),
        )

    def dead_letter(self, body: str, reason: str) -> None:
        if not self.dlq_url:
            raise RuntimeError("no dead-letter queue configured (SYNC_DLQ_URL)")
        self._client.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=body,
            MessageAttributes={
                "failure_reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"}
            },
        )

    # --- operator tools ---------------------------------------------------------------------------
    def peek_dead(self, limit: int = 50) -> list[dict[str, str]]:
        """Up to `limit` dead letters with their reasons, left in place (visible again at once)."""
        seen: dict[str, dict[str, str]] = {}
        for _ in range(max(1, limit // 10) * 3):
            reply = self._client.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            )
            batch = reply.get("Messages", [])
            if not batch:
                break
            for m in batch:
                attrs: dict[str, Any] = dict(m.get("MessageAttributes", {}))
                seen[m["MessageId"]] = {
                    "message_id": m["MessageId"],
                    "reason": attrs.get("failure_reason", {}).get(
                        "StringValue", "(redriven by SQS)"
                    ),
                    "contact_id": _contact_of(m.get("Body", "")),
                    "sent_at": str(dict(m.get("Attributes", {})).get("SentTimestamp", "")),
                }
            if len(seen) >= limit:
                break
        return list(seen.values())[:limit]

    def redrive(self, limit: int = 1000, within_seconds: float | None = None) -> int:
        """Move up to `limit` dead letters back to the contact queue; returns how many moved.

        Only letters already dead when the redrive began move: one that fails again and comes
        back meanwhile is left for the next redrive instead of cycling. Ten at a time (one
        receive, one batch send, one batch delete of those sent), so a letter is deleted only
        once it is back in the queue; with `within_seconds` no new batch starts past that time
        (the status page answers within the API function's timeout: press again for more).
        """
        started_ms = int(time.time() * 1000)
        deadline = None if within_seconds is None else self._clock() + within_seconds
        moved, empty = 0, 0
        while moved < limit and empty < 2:  # an empty reply can come while letters remain
            if deadline is not None and self._clock() >= deadline:
                break
            reply = self._client.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=min(10, limit - moved),
                VisibilityTimeout=60,
                WaitTimeSeconds=1,
                AttributeNames=["SentTimestamp"],
            )
            received = reply.get("Messages", [])
            empty = 0 if received else empty + 1
            # Newer letters stay hidden for the visibility timeout, then wait for the next redrive.
            old = [
                m
                for m in received
                if int(dict(m.get("Attributes", {})).get("SentTimestamp", 0)) < started_ms
            ]
            moved += self._move_back(old)
        return moved

    def _move_back(self, letters: Sequence[Any]) -> int:
        """Send letters back to the queue, then delete from the DLQ those SQS took; a letter
        refused stays dead (visible again after its visibility timeout)."""
        taken: list[Any] = []
        for batch in _batches(letters):
            sent = self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(batch)],
            )
            taken += [batch[int(ok["Id"])] for ok in sent.get("Successful", [])]
            if sent.get("Failed"):
                logger.warning(
                    "redrive: SQS refused letters", extra={"failed": len(sent["Failed"])}
                )
        if taken:
            deleted = self._client.delete_message_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(taken)
                ],
            )
            if deleted.get("Failed"):
                # Sent but still dead: the next redrive sends it again (a duplicate the
                # consumer's dedup and state absorb), never a letter lost.
                logger.warning("redrive: deletes failed", extra={"failed": len(deleted["Failed"])})
        return len(taken)


# SQS takes at most 256 KiB in one batch, all bodies together; a contact's snapshot can be large.
_BATCH_BYTES = 250 * 1024


def _batches(letters: Sequence[Any]) -> list[list[Any]]:
    batches: list[list[Any]] = []
    size = 0
    for letter in letters:
        length = len(str(letter["Body"]).encode())
        if not batches or size + length > _BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(letter)
        size += length
    return batches


def _contact_of(body: str) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a letter nested too deep names no contact
        return ""
    return str(data.get("contact_id", "")) if isinstance(data, dict) else ""
