"""The marketplace webhooks a sandbox GHL location sends back when the API changes a contact
(gohighlevel.md §6, §12: "our own tag write makes GHL send ContactTagUpdate back to us"), and the
app's INSTALL / UNINSTALL events (§13), which go to the same URL.

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
    contact_id: str  # for INSTALL / UNINSTALL: the location's id, or the company's
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
    return _stamped(body)


def app_event_body(
    event_type: str, *, app_id: str, company_id: str, location_id: str = "", user_id: str = ""
) -> dict[str, Any]:
    """INSTALL / UNINSTALL (§13): agency-level without `locationId`; location-level with it (and,
    on INSTALL, the installing `userId`)."""
    body: dict[str, Any] = {"type": event_type, "appId": app_id}
    if event_type == "INSTALL":
        body["installType"] = "Location" if location_id else "Company"
    if location_id:
        body["locationId"] = location_id
    body["companyId"] = company_id
    if location_id and user_id and event_type == "INSTALL":
        body["userId"] = user_id
    return _stamped(body)


def _stamped(body: dict[str, Any]) -> dict[str, Any]:
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
        self.send_body(webhook_body(event_type, contact, app_id=self.app_id), contact["id"])

    def send_body(self, body: dict[str, Any], subject: str) -> None:
        """Sign and send `body` (with its `type` and `webhookId`) in the background."""
        data = json.dumps(body).encode()

        def done(outcome: Delivery) -> None:
            sent = SentWebhook(body["type"], subject, body["webhookId"], *outcome[1:])
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
