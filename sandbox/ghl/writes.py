"""Writes to a contact in a sandbox GHL location (gohighlevel.md §12): add and remove tags, notes,
and `PUT /contacts/{id}`. A mixin of GhlLocation (location.py).

As GHL does: new tags are stored trimmed and lower-cased, and match existing ones in any case; a
PUT merges `dndSettings` per channel, and a PUT with `tags` REPLACES every tag, which the product
must never send, so the sandbox counts it (`tag_replacements`). A tag or DND change bumps
dateUpdated and, when a stack configured it, sends ContactTagUpdate / ContactDndUpdate back
(webhooks_back.py). A note leaves the contact (and its dateUpdated) unchanged.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from sandbox.ghl.search import invalid
from sandbox.ghl.store import DND_CHANNELS, Contact, iso
from sandbox.ghl.webhooks_back import WebhooksBack
from sandbox.http.messages import HttpError, Request, Response

# What PUT /contacts/{id} accepts; any other key is a 422, as GHL's validation answers.
PUT_FIELDS = frozenset(
    {
        *("firstName", "lastName", "name", "email", "phone", "address1", "city", "state"),
        *("postalCode", "website", "timezone", "dnd", "dndSettings", "inboundDndSettings"),
        *("tags", "source", "country", "companyName", "dateOfBirth", "assignedTo"),
        "customFields",
    }
)
DND_STATUSES = ("active", "inactive", "permanent")
# (method, path, handler name): routes.py serves each at the location the request's token is for.
WRITE_ROUTES = (
    ("POST", r"/contacts/(?P<id>[^/]+)/tags/?", "_add_tags"),
    ("DELETE", r"/contacts/(?P<id>[^/]+)/tags/?", "_remove_tags"),
    ("POST", r"/contacts/(?P<id>[^/]+)/notes/?", "_add_note"),
    ("GET", r"/contacts/(?P<id>[^/]+)/notes/?", "_list_notes"),
    ("PUT", r"/contacts/(?P<id>[^/]+)/?", "_put_contact"),
)


def _tag_list(body: dict[str, Any], *, allow_empty: bool = False) -> list[str]:
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise invalid("tags must be an array of non-empty strings")
    if not tags and not allow_empty:
        raise invalid("tags should not be empty")
    return list(dict.fromkeys(t.strip().lower() for t in tags))


class GhlWrites:
    _lock: threading.RLock  # SandboxServer's
    location_id: str
    webhooks: WebhooksBack | None
    _rng: random.Random
    _contacts: dict[str, Contact]  # GhlStore's
    _now_ms: Callable[[], int]
    _new_id: Callable[[random.Random], str]
    _touch: Callable[[str, dict[str, Any]], Contact]
    upsert_contact: Callable[[dict[str, Any]], Contact]

    def _reset_writes(self) -> None:
        with self._lock:
            self._notes: dict[str, list[dict[str, Any]]] = {}  # contact id -> notes, oldest first
            self._tag_replacements = 0

    # Python API for tests

    @property
    def tag_replacements(self) -> int:
        """How many PUT /contacts/{id} carried `tags` (each replaced every tag)."""
        with self._lock:
            return self._tag_replacements

    def notes(self, contact_id: str) -> list[dict[str, Any]]:
        """The contact's notes, newest first."""
        with self._lock:
            return [dict(n) for n in reversed(self._notes.get(contact_id, []))]

    # Request plumbing

    def _writable(self, req: Request) -> Contact:
        c = self._contacts.get(req.params["id"])
        if c is None or c.get("locationId") != self.location_id:
            raise HttpError(404, "Contact not found")
        return c

    def _changed(self, cid: str, changes: dict[str, Any], events: list[str]) -> Contact:
        """Store `changes` (bumping dateUpdated), then send the webhooks `events` name."""
        return self._send(events, self._touch(cid, changes))

    def _send(self, events: list[str], contact: Contact) -> Contact:
        if self.webhooks is not None:
            for event_type in events:
                self.webhooks.send(event_type, contact)
        return contact

    # API endpoints

    def _add_tags(self, req: Request) -> Response:
        c, tags = self._writable(req), _tag_list(req.json_object())
        have = {t.strip().lower() for t in c.get("tags") or []}
        new = [t for t in tags if t not in have]
        if new:
            c = self._changed(
                c["id"], {"tags": [*(c.get("tags") or []), *new]}, ["ContactTagUpdate"]
            )
        return 200, {"tags": list(c.get("tags") or [])}, {}

    def _remove_tags(self, req: Request) -> Response:
        c, gone = self._writable(req), set(_tag_list(req.json_object()))
        kept = [t for t in c.get("tags") or [] if t.strip().lower() not in gone]
        if len(kept) != len(c.get("tags") or []):
            c = self._changed(c["id"], {"tags": kept}, ["ContactTagUpdate"])
        return 200, {"tags": list(c.get("tags") or [])}, {}

    def _add_note(self, req: Request) -> Response:
        c, body = self._writable(req), req.json_object()
        text, user = body.get("body"), body.get("userId")
        if not isinstance(text, str) or not text.strip():
            raise invalid("body should not be empty")
        if user is not None and not isinstance(user, str):
            raise invalid("userId must be a string")
        note = {
            "id": self._new_id(self._rng),
            "body": text,
            "userId": user,
            "dateAdded": iso(self._now_ms()),
            "contactId": c["id"],
        }
        self._notes.setdefault(c["id"], []).append(note)
        return 201, {"note": dict(note)}, {}

    def _list_notes(self, req: Request) -> Response:
        return 200, {"notes": self.notes(self._writable(req)["id"])}, {}

    def _put_contact(self, req: Request) -> Response:
        c, body = self._writable(req), req.json_object()
        if unknown := sorted(set(body) - PUT_FIELDS):
            raise invalid(f"property {unknown[0]} should not exist")
        changes = {k: v for k, v in body.items() if k not in ("dndSettings", "tags")}
        if "dnd" in changes and not isinstance(changes["dnd"], bool):
            raise invalid("dnd must be a boolean value")
        if "dndSettings" in body:
            changes["dndSettings"] = _merge_dnd(c.get("dndSettings") or {}, body["dndSettings"])
        events = []
        if "tags" in body:
            changes["tags"] = _tag_list(body, allow_empty=True)
            self._tag_replacements += 1
            if changes["tags"] != c.get("tags"):
                events.append("ContactTagUpdate")
        if any(k in changes and changes[k] != c.get(k) for k in ("dnd", "dndSettings")):
            events.append("ContactDndUpdate")
        # upsert_contact derives the name fields again and bumps dateUpdated.
        contact = self._send(events, self.upsert_contact({**changes, "id": c["id"]}))
        return 200, {"succeded": True, "contact": contact}, {}  # sic: GHL's spelling

    def _admin_writes(self, req: Request) -> Response:
        with self._lock:
            notes = sum(len(n) for n in self._notes.values())
        sent = [s._asdict() for s in self.webhooks.sent] if self.webhooks else []
        body = {"tag_replacements": self.tag_replacements, "notes": notes, "webhooks_sent": sent}
        return 200, body, {}


def _merge_dnd(stored: dict[str, Any], given: Any) -> dict[str, Any]:
    """Per channel: the given keys override the stored ones; other channels are kept."""
    if not isinstance(given, dict):
        raise invalid("dndSettings must be an object")
    merged = {**stored}
    for channel, setting in given.items():
        if channel not in DND_CHANNELS or not isinstance(setting, dict):
            raise invalid(f"dndSettings.{channel} is not a known channel object")
        if setting.get("status", "inactive") not in DND_STATUSES:
            raise invalid(f"dndSettings.{channel}.status must be one of {', '.join(DND_STATUSES)}")
        base = stored.get(channel) or {"status": "inactive", "message": "", "code": ""}
        merged[channel] = {**base, **setting}
    return merged
