"""The CallTools hook route's work: authenticate, take the record id, enqueue, answer fast.

Nothing is enqueued without the secret. 200 only once the message is durably in SQS; if SQS
fails, 503 and CallTools' retry (or the nightly catch-up) brings it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime

from chalicelib.domain.messages import OutcomeMessage
from chalicelib.domain.time import utcnow
from chalicelib.inbound.calltools_hooks import InvalidHook, hook_secret_matches, record_id_of
from chalicelib.inbound.webhook_auth import Secret, reveal
from chalicelib.ports import ContactQueue
from chalicelib.runtime.observability import count, logger
from chalicelib.services.replies import HttpReply, reply

# A historical call disposition is a few hundred bytes.
MAX_HOOK_BYTES = 64 * 1024


class HookIntake:
    def __init__(
        self, queue: ContactQueue, *, secret: Secret, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._queue = queue
        self._secret = secret
        self._clock = clock

    def handle(
        self,
        raw_body: bytes | str | None,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None,
    ) -> HttpReply:
        if isinstance(raw_body, str):
            raw_body = raw_body.encode()
        raw_body = raw_body or b""
        if len(raw_body) > MAX_HOOK_BYTES:
            count("HooksRejectedTooLarge")
            return reply(413, "rejected", reason=f"body over {MAX_HOOK_BYTES} bytes")
        auth = hook_secret_matches(reveal(self._secret), query, headers)
        if not auth.ok:
            logger.warning("CallTools hook refused", extra={"reason": auth.reason})
            count("HooksRejectedUnauthorized")
            return reply(401, "unauthorized", reason=auth.reason)
        try:
            record_id = record_id_of(json.loads(raw_body))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            count("HooksRejectedInvalid")
            reason = str(exc) if isinstance(exc, InvalidHook) else "body is not JSON"
            return reply(400, "invalid", reason=reason)
        message = OutcomeMessage(origin="hook", record_id=record_id, received_at=self._clock())
        try:
            message_id = self._queue.send(message)
        except Exception:
            logger.exception("enqueue failed; asking CallTools to retry")
            count("HooksEnqueueFailed")
            return reply(503, "unavailable", reason="queue unavailable, retry later")
        count("HooksAccepted")
        logger.info(
            "CallTools hook accepted", extra={"record_id": record_id, "sqs_message_id": message_id}
        )
        return reply(200, "accepted", record_id=record_id, message_id=message_id)
