"""The consumer's handlers for call-outcome messages (services/consumer.py dispatches by kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib.domain.errors import PermanentError
from chalicelib.domain.messages import CatchUpStep, OutcomeMessage
from chalicelib.ports import ContactQueue
from chalicelib.runtime.observability import logger
from chalicelib.services.consumer import Handler, dead_letter_invalid


def outcome_handlers(
    apply: Callable[[OutcomeMessage], dict[str, Any]],
    catch_up: Callable[[], object],
    queue: ContactQueue,
) -> dict[str, Handler]:
    def handle_outcome(record: SQSRecord) -> dict[str, Any]:
        try:
            message = OutcomeMessage.model_validate_json(record.body)
        except ValidationError as exc:
            reason = dead_letter_invalid(queue, record, exc)
            return {"result": "failed", "reason": reason, "record_id": None}
        logger.thread_safe_append_keys(correlation_id=record.message_id, record=message.record_id)
        try:
            return apply(message)
        except PermanentError as exc:
            # GHL refused a write (a 4xx other than 404/429): retrying will not help.
            queue.dead_letter(record.body, str(exc))
            return {"result": "failed", "reason": str(exc), "record_id": message.record_id}
        finally:
            logger.thread_safe_remove_keys(["correlation_id", "record"])

    def handle_catch_up(record: SQSRecord) -> dict[str, Any]:
        CatchUpStep.model_validate_json(record.body)  # a malformed one fails, and goes to the DLQ
        catch_up()
        return {"result": "outcome_catchup"}

    return {"outcome": handle_outcome, "outcome_catchup": handle_catch_up}
