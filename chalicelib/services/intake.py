"""The webhook route's work: authenticate, parse, enqueue — and answer GHL with the right status.

Authentication comes first and nothing is enqueued without it. The answer is 200 only once the
message is durably in SQS; if SQS fails GHL gets a 503 and retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import (
    IgnoredEvent,
    InvalidEvent,
    parse_marketplace_event,
    parse_workflow_payload,
    scope_rejection,
)
from chalicelib.inbound.webhook_auth import (
    ED25519_HEADER,
    RSA_HEADER,
    Secret,
    header_value,
    reveal,
    shared_secret_matches,
)
from chalicelib.ports import AuthResult, ContactQueue, LocationDirectory, WebhookVerifier
from chalicelib.runtime.observability import count, logger
from chalicelib.services.replies import HttpReply, reply

MAX_BODY_BYTES = 256 * 1024
APP_EVENTS = frozenset({"INSTALL", "UNINSTALL"})  # services/oauth/app_events.py handles them


IntakeReply = HttpReply


class WebhookIntake:
    def __init__(
        self,
        verifier: WebhookVerifier,
        queue: ContactQueue,
        *,
        workflow_secret: Secret,
        location_id: str,
        app_id: str = "",
        replay_after: timedelta = timedelta(days=14),
        clock: Callable[[], datetime] = utcnow,
        locations: LocationDirectory | None = None,
        app_events: Callable[[Any], HttpReply] | None = None,  # INSTALL / UNINSTALL (OAuth)
    ) -> None:
        self._verifier = verifier
        self._queue = queue
        self._workflow_secret = workflow_secret
        self._location_id = location_id
        self._app_id = app_id
        self._replay_after = replay_after
        self._clock = clock
        # Registered locations (docs/locations.md); None: the built-in location only.
        self._locations = locations
        self._app_events = app_events

    def handle(self, raw_body: bytes | str | None, headers: Mapping[str, str]) -> IntakeReply:
        if isinstance(raw_body, str):
            raw_body = raw_body.encode()
        raw_body = raw_body or b""
        if len(raw_body) > MAX_BODY_BYTES:
            count("WebhooksRejectedTooLarge")
            return reply(413, "rejected", reason=f"body over {MAX_BODY_BYTES} bytes")

        if not self._location_id:
            # Without it every GHL location's events would be ours: refuse, loudly, and let GHL
            # retry once the setting is there.
            logger.error("GHL_LOCATION_ID is not set; refusing every webhook")
            count("WebhooksRefusedUnconfigured")
            return reply(503, "unavailable", reason="GHL_LOCATION_ID is not configured")

        signed = header_value(headers, ED25519_HEADER) or header_value(headers, RSA_HEADER)
        auth = (
            self._verifier.verify(raw_body, headers)
            if signed
            else shared_secret_matches(reveal(self._workflow_secret), headers)
        )
        if not auth.ok:
            logger.warning("webhook refused", extra={"scheme": auth.scheme, "reason": auth.reason})
            count("WebhooksRejectedUnauthorized")
            return reply(401, "unauthorized", reason=auth.reason)

        try:
            body = json.loads(raw_body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            count("WebhooksRejectedInvalid")
            return reply(400, "invalid", reason="body is not JSON")

        signed_app_event = auth.scheme != "workflow-secret" and isinstance(body, dict)
        if signed_app_event and self._app_events and str(body.get("type")) in APP_EVENTS:
            return self._app_events(body)
        try:
            message = self._parse(body, auth)
        except IgnoredEvent as ignored:
            count("WebhooksIgnored")
            return reply(200, "ignored", reason=ignored.reason)
        except (InvalidEvent, RecursionError) as exc:
            count("WebhooksRejectedInvalid")
            return reply(400, "invalid", reason=str(exc))

        try:
            out_of_scope = self._out_of_scope(message, auth)
        except Exception:
            # Fail closed: an event of a location we cannot look up is neither synced nor
            # dropped; GHL retries it.
            logger.exception("location registry unreadable; asking GHL to retry")
            count("WebhooksRegistryFailed")
            return reply(503, "unavailable", reason="location registry unavailable, retry later")
        if out_of_scope:
            logger.warning("webhook ignored", extra={"reason": out_of_scope})
            count("WebhooksIgnored")
            count("WebhooksOutOfScope")
            return reply(200, "ignored", reason=out_of_scope)

        try:
            message_id = self._queue.send(message)
        except Exception:
            logger.exception("enqueue failed; asking GHL to retry")
            count("WebhooksEnqueueFailed")
            return reply(503, "unavailable", reason="queue unavailable, retry later")
        count("WebhooksAccepted")
        logger.info(
            "webhook accepted",
            extra={
                "contact_id": message.contact_id,
                "location_id": message.location_id,
                "event_type": message.event_type,
                "webhook_id": message.webhook_id,
                "refetch": message.snapshot is None,
                "sqs_message_id": message_id,
            },
        )
        return reply(200, "accepted", contact_id=message.contact_id, message_id=message_id)

    def _out_of_scope(self, message: SyncMessage, auth: AuthResult) -> str | None:
        """Why the event is not ours to sync, or None. The built-in location's events are judged
        as they always were; another location's is ours only when it is registered and active,
        and only on GHL's signature: the deployment's one workflow secret speaks for the
        built-in location alone (anyone holding it could name any location)."""
        rejection = scope_rejection(message, self._location_id, self._app_id)
        if rejection != "other location" or self._locations is None:
            return rejection
        if auth.scheme == "workflow-secret" or message.location_id is None:
            return rejection
        if self._locations.active(message.location_id) is None:
            return "other location"  # not registered, or deactivated
        return scope_rejection(message, message.location_id, self._app_id)

    def _parse(self, body: Any, auth: AuthResult) -> SyncMessage:
        now = self._clock()
        if auth.scheme == "workflow-secret":
            return parse_workflow_payload(body, received_at=now)
        return parse_marketplace_event(body, received_at=now, max_age=self._replay_after)
