"""The marketplace webhooks a sandbox GHL location sends back when the API changes a contact
(gohighlevel.md §6, §12: "our own tag write makes GHL send ContactTagUpdate back to us").

Off unless a stack points them somewhere: the body is flat (event fields and the contact's fields
at the top level), signed by a callable the stack provides (`X-GHL-Signature`, Ed25519 over the
exact bytes sent), with a fresh `webhookId` and `timestamp` each time. Sent in the background,
retried a couple of times while the receiver cannot be reached, never blocking the API reply.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sandbox.http.outbound import Delivery, send_in_background

# The contact fields a contact webhook carries (gohighlevel.md §6), in the fixtures' order.
WEBHOOK_FIELDS = (
    *("address1", "city", "state", "companyName", "country", "source", "dateAdded"),
    *("dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone", "postalCode"),
    *("tags", "website", "attachments", "assignedTo", "customFields"),
)


class SentWebhook(NamedTuple):
    type: str
    contact_id: str
    webhook_id: str
    status: int | None  # None: never reached the receiver
    error: str


def webhook_body(event_type: str, contact: dict[str, Any], *, app_id: str = "") -> dict[str, Any]:
    """The flat body of a contact webhook for `contact` (the GET shape)."""
    body: dict[str, Any] = {"type": event_type, "locationId": contact.get("locationId")}
    if app_id:
        body["appId"] = app_id
    body["id"] = contact["id"]
    body.update({k: contact[k] for k in WEBHOOK_FIELDS if k in contact})
    if event_type == "ContactDndUpdate":
        body["dndSettings"] = contact.get("dndSettings", {})
    now = datetime.now(UTC)
    body["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    body["webhookId"] = str(uuid.uuid4())
    return body


class WebhooksBack:
    """Sends contact webhooks to `url`, each body signed with `sign(body) -> base64 signature`."""

    def __init__(
        self,
        url: str,
        sign: Callable[[bytes], str],
        *,
        app_id: str = "",
        timeout: float = 5.0,
        retries: int = 2,
        stopping: threading.Event | None = None,
    ) -> None:
        self.url, self.app_id = url, app_id
        self._sign, self._timeout, self._retries = sign, timeout, retries
        self._stopping = stopping
        self._lock = threading.Lock()
        self._sent: list[SentWebhook] = []

    def send(self, event_type: str, contact: dict[str, Any]) -> None:
        body = webhook_body(event_type, contact, app_id=self.app_id)
        data = json.dumps(body).encode()

        def done(outcome: Delivery) -> None:
            sent = SentWebhook(event_type, contact["id"], body["webhookId"], *outcome[1:])
            with self._lock:
                self._sent.append(sent)

        send_in_background(
            self.url,
            data,
            {"X-GHL-Signature": self._sign(data)},
            timeout=self._timeout,
            done=done,
            retries=self._retries,
            stopping=self._stopping,
        )

    @property
    def sent(self) -> list[SentWebhook]:
        """Every webhook whose delivery finished (reached or given up), in that order."""
        with self._lock:
            return list(self._sent)
