"""Webhook bodies → the sync message that travels through SQS.

Which events carry a trustworthy snapshot (synced as delivered, ordered by `timestamp`) and which
make the consumer re-read the contact from GHL is decided here, in `_needs_refetch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.contact import Contact, contact_from_ghl, is_dnd_for_calls
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import parse_time, utcnow

CONTACT_EVENTS = frozenset(
    {"ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate", "ContactDelete"}
)


class InvalidEvent(ValueError):
    """The body is not a contact event we can act on (→ 400)."""


class IgnoredEvent(Exception):
    """A genuine event that the sync does not act on (→ 200, nothing enqueued)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unwrap(body: Mapping[str, Any]) -> dict[str, Any]:
    """Accept the flat body and the `{"data": {...}}` form one guide shows."""
    data = body.get("data")
    if isinstance(data, Mapping) and not isinstance(body.get("id"), str):
        merged = {k: v for k, v in body.items() if k != "data"}
        merged.update(data)
        return merged
    return dict(body)


def _needs_refetch(event_type: str, flat: Mapping[str, Any], event_time: datetime | None) -> bool:
    """A snapshot is trusted only with a timestamp, the full tag array and a DND flag. Tags that
    are null, a string or hold non-strings mean "tags unknown": the contact is re-read, never
    taken as tagless (GHL does not resend a 4xx, so a signed event is not refused for them)."""
    if event_time is None:
        return True
    if event_type == "ContactDelete":
        return False
    has_dnd = isinstance(flat.get("dnd"), bool) or isinstance(flat.get("dndSettings"), Mapping)
    tags = flat.get("tags")
    tags_known = isinstance(tags, list) and all(isinstance(t, str) for t in tags)
    return not (tags_known and has_dnd)


def _optional_str(flat: Mapping[str, Any], key: str) -> str | None:
    value = flat.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{key} must be a string")
    return value.strip() or None


def parse_marketplace_event(
    body: Any, received_at: datetime | None = None, *, max_age: timedelta | None = None
) -> SyncMessage:
    """A signed marketplace webhook body → SyncMessage; IgnoredEvent / InvalidEvent otherwise.

    An event whose `timestamp` is older than `max_age` (the dedup window) is a replay: its
    webhookId may be forgotten already, so it is ignored rather than synced again."""
    received_at = received_at or utcnow()
    if not isinstance(body, Mapping):
        raise InvalidEvent("body must be a JSON object")
    flat = _unwrap(body)
    event_type = flat.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("not a contact event: no type")
    if event_type not in CONTACT_EVENTS:
        raise IgnoredEvent(f"event type {event_type} is not synced")
    contact_id = _optional_str(flat, "id") or _optional_str(flat, "contactId")
    if not contact_id:
        raise InvalidEvent("contact event without a contact id")
    location_id = _optional_str(flat, "locationId")
    event_time = parse_time(flat.get("timestamp"))
    if max_age is not None and event_time is not None and event_time < received_at - max_age:
        raise IgnoredEvent("replay: the event is older than the dedup window")
    snapshot: Contact | None = None
    if _needs_refetch(event_type, flat, event_time):
        if event_time is not None and is_dnd_for_calls(flat):
            # DND for calls keeps the contact out whatever its tags: unknown tags change nothing.
            snapshot = contact_from_ghl({**flat, "tags": []})
        else:
            event_time = None
    elif event_type == "ContactDelete":
        snapshot = Contact.gone(contact_id, location_id)
    else:
        try:
            snapshot = contact_from_ghl(flat)
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from exc
    return SyncMessage(
        origin="marketplace",
        event_type=event_type,
        contact_id=contact_id,
        location_id=location_id,
        app_id=_optional_str(flat, "appId"),
        webhook_id=_optional_str(flat, "webhookId"),
        event_time=event_time,
        snapshot=snapshot,
        received_at=received_at,
    )


def parse_workflow_payload(body: Any, received_at: datetime | None = None) -> SyncMessage:
    """A workflow webhook: only the contact id is trusted; the consumer re-reads the contact."""
    if not isinstance(body, Mapping):
        raise InvalidEvent("body must be a JSON object")
    contact_id = None
    for key in ("contact_id", "contactId", "id"):
        contact_id = _optional_str(body, key)
        if contact_id:
            break
    if not contact_id:
        raise InvalidEvent("workflow payload without contact_id")
    location = body.get("location")
    location_id = None
    if isinstance(location, Mapping):
        location_id = _optional_str(location, "id")
    location_id = (
        location_id or _optional_str(body, "locationId") or _optional_str(body, "location_id")
    )
    return SyncMessage(
        origin="workflow",
        event_type="Workflow",
        contact_id=contact_id,
        location_id=location_id,
        received_at=received_at or utcnow(),
    )


def scope_rejection(message: SyncMessage, location_id: str, app_id: str) -> str | None:
    """Why this message is not ours to sync, or None. GHL signs every app's webhooks with one
    key, so a valid signature does not make an event ours: it must name our location. An
    `appId` is compared only when present (GHL's contact-event examples carry none)."""
    if not location_id:
        return "no location configured"
    if message.location_id is None:
        return "no location in the event"
    if message.location_id != location_id:
        return "other location"
    if app_id and message.origin == "marketplace" and message.app_id not in (None, app_id):
        return "other app"
    return None
