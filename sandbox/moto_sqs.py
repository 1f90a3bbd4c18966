"""A speed-up of moto's SQS emulation, for the local stack, the bench and the tests only.

moto 5.2.5 spends time proportional to the queue's length, with a large constant, on every SQS
operation, which real SQS does not: measured with `python -m bench.moto_speed` (docs/testing.md),
with 1,000 messages queued a SendMessageBatch took ~0.35 s and a ReceiveMessage ~1 s. So a local
run measured moto, not our design. The causes, and what `apply()` changes:

* `unix_time()`/`unix_time_millis()` build datetimes; every message's `visible`/`delayed` check
  calls one. Replaced, in `moto.sqs.models` only, by `time.time()`, the clock `datetime.now` reads.
* The three approximate counts each walk the queue calling those checks per message. Same
  predicates, one reading of the clock per walk, the message fields read directly.
* `receive_message` checks each received message's retention through `get_queue_attributes`, which
  computes every attribute (all counts) three times. Read the retention period directly.
* `get_queue_attributes` for named attributes computed the whole set twice per name: once now.
* `had_receipt_handle` concatenated lists on every message a delete or visibility change walks.

SQS semantics are unchanged (delays, visibility, redrive after maxReceiveCount, retention,
counts): tests/sandbox/test_moto_sqs.py holds them. Applied only to the moto version it was
written against; with another, `apply()` changes nothing and says so.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

PATCHED_VERSION = "5.2.5"
_applied = False


def _unix_time(dt: Any = None) -> float:
    from moto.core import utils

    return time.time() if dt is None else utils.unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    from moto.core import utils

    return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)


def _visible_messages(queue: Any) -> list[Any]:
    now = time.time() * 1000.0
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _counts(queue: Any) -> dict[str, int]:
    """The three approximate counts from one walk of the queue, at one instant."""
    now = time.time() * 1000.0
    visible = delayed = not_visible = 0
    for m in queue._messages:
        is_visible, is_delayed = now > m.visible_at, now < m.delayed_until
        visible += is_visible and not is_delayed
        delayed += is_delayed
        not_visible += not is_visible
    return {
        "ApproximateNumberOfMessages": visible,
        "ApproximateNumberOfMessagesDelayed": delayed,
        "ApproximateNumberOfMessagesNotVisible": not_visible,
    }


def _attributes(queue: Any) -> dict[str, Any]:
    """moto's Queue.attributes, but its three counts from one walk instead of three."""
    from moto.core.utils import camelcase_to_underscores

    counts = _counts(queue)
    names = list(queue.BASE_ATTRIBUTES)
    if queue.fifo_queue:
        names += queue.FIFO_ATTRIBUTES
    if queue.kms_master_key_id:
        names += queue.KMS_ATTRIBUTES
    result = {
        n: counts[n] if n in counts else getattr(queue, camelcase_to_underscores(n)) for n in names
    }
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}


def _retained(backend: Any, queue_name: str, message: Any) -> bool:
    retention = backend.get_queue(queue_name).message_retention_period
    return bool(retention + message.sent_timestamp / 1000 > time.time())


def _had_receipt_handle(message: Any, receipt_handle: str) -> bool:
    return (
        receipt_handle == message.receipt_handle or receipt_handle in message._old_receipt_handles
    )


def _get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> Any:
    from moto.sqs.exceptions import InvalidAttributeName

    queue = backend.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid = next((name for name in attribute_names if name not in valid), None)
    if invalid or invalid == "":
        raise InvalidAttributeName(invalid)
    everything = queue.attributes
    if "All" in attribute_names:
        return everything
    return {n: everything[n] for n in attribute_names if everything.get(n) is not None}


def apply() -> bool:
    """Patch moto's SQS models in this process (idempotent); False when moto's version is not
    the one these patches were written against (then nothing is changed)."""
    global _applied
    if _applied:
        return True
    import moto
    from moto.sqs import models

    if moto.__version__ != PATCHED_VERSION:
        warnings.warn(
            f"sandbox/moto_sqs.py was written for moto {PATCHED_VERSION}, not {moto.__version__}: "
            "moto's SQS runs unpatched (correct, but slow with long queues)",
            stacklevel=2,
        )
        return False
    # Typed as Any: these assignments replace moto's own functions, which is the point.
    module: Any = models
    queue: Any = models.Queue
    backend: Any = models.SQSBackend
    message: Any = models.Message
    module.unix_time, module.unix_time_millis = _unix_time, _unix_time_millis
    queue.messages = property(_visible_messages)
    queue.attributes = property(_attributes)
    backend.is_message_valid_based_on_retention_period = _retained
    backend.get_queue_attributes = _get_queue_attributes
    message.had_receipt_handle = _had_receipt_handle
    _applied = True
    return True
