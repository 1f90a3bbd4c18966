"""The SQS consumer: a batch of contact messages → synced contacts, without ever losing a message.

Chalice cannot set ReportBatchItemFailures on its SQS trigger, and without it a returned
`batchItemFailures` is ignored and the whole batch deleted. So the consumer does not rely on the
response: it deletes each message itself as soon as it is done and, if any record failed, raises,
which makes Lambda return the (remaining) batch to the queue under either setting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib.domain.errors import ConcurrentUpdate, Deferred, MaybeApplied, TransientError
from chalicelib.domain.messages import ReconcileStep, SyncMessage
from chalicelib.domain.time import utcnow
from chalicelib.ports import ContactQueue, Dedup
from chalicelib.runtime.observability import count, logger, milliseconds
from chalicelib.services.queue_bodies import deferred_once_more, kind_of, raw_record
from chalicelib.services.record_pool import RecordPool
from chalicelib.services.sync import ContactSync
from chalicelib.services.tenancy import Tenants

# A conflict with another worker resolves within one contact's sync.
CONFLICT_DELAY_SECONDS = 5
# How often a container writes the time of the newest webhook it synced (for /sync/stats).
WEBHOOK_CLOCK_INTERVAL_SECONDS = 60.0


class BatchIncomplete(Exception):
    """Raised after the successes were deleted, so Lambda redelivers only the failures."""

    def __init__(self, failed_ids: Sequence[str]) -> None:
        super().__init__(f"{len(failed_ids)} record(s) will be retried: {', '.join(failed_ids)}")
        self.failed_ids = list(failed_ids)


class DeadLettered(Exception):
    """Raised out of the dedup unit so no dedup record is kept: a redrive, once the cause is
    fixed, must run again rather than be answered as a duplicate."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__(outcome.get("reason"))
        self.outcome = outcome


# Turns one record into its outcome; the outcome is also appended to BatchConsumer.outcomes.
Handler = Callable[[SQSRecord], dict[str, Any]]


class BatchConsumer:
    def __init__(
        self,
        sync: ContactSync,
        dedup: Dedup,
        queue: ContactQueue,
        *,
        time_reserve_ms: int = 25_000,
        run_step: Callable[[str, Callable[[], float], float], object] | None = None,
        webhook_clock: Callable[[datetime], None] | None = None,
        # Wall time, not monotonic: a Lambda container's monotonic clock may stand still while
        # it is frozen between invocations.
        seconds: Callable[[], float] = time.time,
        records_at_once: int = 1,
        more_handlers: Mapping[str, Handler] | None = None,
        tenants: Tenants | None = None,
    ) -> None:
        self._sync = sync
        # Registered locations' own syncs (services/tenancy.py); `sync` is the built-in's.
        self._tenants = tenants
        self._dedup = dedup
        self._queue = queue
        self._reserve_ms = time_reserve_ms
        self._run_step = run_step
        self._webhook_clock = webhook_clock
        self._seconds = seconds
        self.records_at_once = records_at_once
        self._starting = threading.Lock()
        self._webhook_noted: float | None = None  # when the webhook clock was last written
        self._newest_webhook: datetime | None = None
        self._remaining: Callable[[], float] = lambda: float("inf")
        self.outcomes: list[dict[str, Any]] = []  # of the last batch, for tests and the CLI
        # Message kind (the body's "kind") → its handler: a new kind is one entry here.
        self._handlers: dict[str, Handler] = {"contact": self._handle_contact}
        if run_step is not None:
            self._handlers["reconcile_step"] = self._handle_reconcile_step
        # Other kinds (call outcomes), whose outcomes are appended here like the ones above.
        for kind, more in (more_handlers or {}).items():
            self._handlers[kind] = partial(self._recorded, more)

    def handle(
        self, records: Sequence[dict[str, Any]], remaining_ms: Callable[[], float]
    ) -> dict[str, Any]:
        self.outcomes = []
        self._remaining = remaining_ms
        processor = RecordPool(self.records_at_once)

        started = 0

        def handle_record(record: SQSRecord) -> dict[str, Any]:
            nonlocal started
            try:
                with self._starting:
                    if remaining_ms() < self._reserve_ms:
                        if not started:
                            # Not one record fits: a setting, not a busy batch. Fail loudly
                            # rather than send copies round for ever.
                            logger.error("BATCH_TIME_RESERVE_SECONDS leaves no time for a record")
                            raise TransientError("no time left for even one record")
                        raise Deferred("not enough time left in this invocation", 0)
                    started += 1
                outcome = self._process(record)
            except Deferred as wait:
                outcome = self._defer(record, wait)
            except (ConcurrentUpdate, MaybeApplied) as busy:
                # Another worker has the contact (or this very delivery), or a write's answer
                # was lost and the retry will find out what it did: a matter of moments. The
                # visibility timeout, and a receive counted towards the DLQ, would punish a
                # healthy message.
                outcome = self._defer(record, Deferred(str(busy), CONFLICT_DELAY_SECONDS))
            self._delete_done(record)
            return outcome

        with processor(records=list(records), handler=handle_record):
            processor.process()

        failed = [raw_record(r)["messageId"] for r in processor.fail_messages]
        if failed:
            done = len(processor.success_messages)
            logger.warning("batch incomplete", extra={"failed": failed, "succeeded": done})
            raise BatchIncomplete(failed)
        # Correct under ReportBatchItemFailures too (nothing failed); kept for that configuration.
        return {"batchItemFailures": []}

    def _delete_done(self, record: SQSRecord) -> None:
        """Each record leaves the queue as soon as it is done, not with its batch: if the
        invocation dies later in the batch, only the records not done come back, and a finished
        one is not charged a receive towards the DLQ for another's crash."""
        try:
            self._queue.delete([record.receipt_handle])
        except Exception:  # it comes back and is answered by the dedup record
            logger.exception("could not delete a processed message")

    def _defer(self, record: SQSRecord, wait: Deferred) -> dict[str, Any]:
        """A delayed copy, then the original is deleted as done: waiting is not failing, and must
        not bring the message closer to the DLQ. If the copy cannot be sent, the record fails."""
        self._queue.requeue(deferred_once_more(record.body, wait.counter), math.ceil(wait.seconds))
        logger.info(
            "message deferred",
            extra={
                "sqs_message_id": record.message_id,
                "reason": str(wait),
                "seconds": wait.seconds,
            },
        )
        count("MessagesDeferred")
        outcome = {"result": "deferred", "reason": str(wait)}
        self.outcomes.append(outcome)
        return outcome

    def _process(self, record: SQSRecord) -> dict[str, Any]:
        # A body without a kind is a contact message (SyncMessage's default). Any kind without a
        # handler goes to the contact handler too, whose validation dead-letters it as invalid.
        handler = self._handlers.get(kind_of(record.body) or "contact", self._handle_contact)
        return handler(record)

    def _recorded(self, handler: Handler, record: SQSRecord) -> dict[str, Any]:
        outcome = handler(record)
        self.outcomes.append(outcome)
        return outcome

    def _handle_reconcile_step(self, record: SQSRecord) -> dict[str, Any]:
        assert self._run_step is not None  # registered only with a run_step
        step = ReconcileStep.model_validate_json(record.body)
        outcome: dict[str, Any] = {"result": "reconcile_step", "run_id": step.run_id}
        run_step = self._run_step
        if self._tenants is not None and not self._tenants.is_builtin(step.location_id):
            tenant = self._tenants.tenant(str(step.location_id))  # raises: retried
            if tenant is None:  # deactivated: its run stops here
                outcome["result"] = "ignored"
                self.outcomes.append(outcome)
                return outcome
            run_step = tenant.reconciler.step
        run_step(step.run_id, self._remaining, self._reserve_ms)
        self.outcomes.append(outcome)
        return outcome

    def _handle_contact(self, record: SQSRecord) -> dict[str, Any]:
        body = record.body
        outcome: dict[str, Any]
        try:
            message = SyncMessage.model_validate_json(body)
        except ValidationError as exc:
            reason = dead_letter_invalid(self._queue, record, exc)
            outcome = {"result": "failed", "reason": reason, "contact_id": None}
            self.outcomes.append(outcome)
            return outcome

        sync, dedup = self._sync, self._dedup
        if self._tenants is not None and not self._tenants.is_builtin(message.location_id):
            # Raises when the registry cannot be read: the record is retried, never synced
            # with another location's parts.
            tenant = self._tenants.tenant(str(message.location_id))
            if tenant is None:
                outcome = {"result": "ignored", "reason": "location not registered or inactive"}
                self.outcomes.append({**outcome, "contact_id": message.contact_id})
                return outcome
            sync, dedup = tenant.sync, tenant.dedup
        key = message.dedup_key or f"sqs:{record.message_id}"
        # Per thread (records run side by side), and removed after the record: a later record's
        # or step's lines must not carry this contact's ids.
        logger.thread_safe_append_keys(
            correlation_id=message.webhook_id or record.message_id,
            contact_id=message.contact_id,
            webhook_id=message.webhook_id,
        )
        work = partial(self._sync_or_dead_letter, sync, message, body)
        # A reconciliation message has no dedup record (two writes): delivered again, it finds
        # its contact in step and changes nothing, and a copy running at the same time loses the
        # lease's conditional write and is deferred. A webhook keeps its record: a delivery GHL
        # sends twice after a newer event could otherwise cost a GHL re-read, dearer than the
        # two writes.
        from_webhook = message.origin != "reconciliation"
        try:
            outcome = dedup.run_once(key, work) if from_webhook else work()
        except DeadLettered as dead:
            outcome = dead.outcome
        finally:
            logger.thread_safe_remove_keys(["correlation_id", "contact_id", "webhook_id"])
        self.outcomes.append(outcome)
        self._measure(message, outcome)
        if from_webhook and not outcome.get("duplicate") and sync is self._sync:
            self._note_webhook(message.received_at)  # the built-in's statistic
        return outcome

    def _note_webhook(self, received_at: datetime) -> None:
        """`last_webhook_at` for /sync/stats: one write a minute at most per container, not one
        per webhook. What it shows is then up to a minute behind; nothing else reads it."""
        self._newest_webhook = max(filter(None, (self._newest_webhook, received_at)))
        now = self._seconds()
        if self._webhook_clock is None or (
            self._webhook_noted is not None
            and now - self._webhook_noted < WEBHOOK_CLOCK_INTERVAL_SECONDS
        ):
            return
        self._webhook_noted = now
        try:
            self._webhook_clock(self._newest_webhook)
        except Exception:  # a statistic: the contact is synced whatever becomes of it
            logger.warning("could not record the last webhook's time")

    @staticmethod
    def _measure(message: SyncMessage, outcome: dict[str, Any]) -> None:
        if outcome.get("duplicate"):
            count("DeliveriesDuplicate")
            return
        result = str(outcome.get("result"))
        count(
            f"Contacts{result.capitalize()}"
        )  # ContactsSynced, ContactsUnchanged, ContactsStale...
        if outcome.get("added"):
            count("BucketAdds", len(outcome["added"]))
        if outcome.get("removed"):
            count("BucketRemovals", len(outcome["removed"]))
        if result == "synced" and message.origin != "reconciliation":
            lag = (utcnow() - message.received_at).total_seconds() * 1000
            milliseconds("EndToEndLag", lag)

    def _sync_or_dead_letter(
        self, sync: ContactSync, message: SyncMessage, body: str
    ) -> dict[str, Any]:
        """Inside the dedup unit, so a failed DLQ write undoes the record and is retried."""
        outcome = sync.sync(message).as_dict()
        if outcome["result"] == "failed":
            self._queue.dead_letter(body, outcome.get("reason") or "failed")
            raise DeadLettered(outcome)
        return outcome


def dead_letter_invalid(queue: ContactQueue, record: SQSRecord, exc: ValidationError) -> str:
    """A message no handler can read goes to the DLQ at once (no retry can mend it); returns
    the reason it was given."""
    reason = f"invalid message: {exc.error_count()} validation error(s)"
    logger.error("dead-lettering invalid message", extra={"sqs_message_id": record.message_id})
    queue.dead_letter(record.body, reason)
    return reason
