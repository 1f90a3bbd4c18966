"""The contacts, buckets and bucket memberships of a sandbox CallTools account, as the REST API
renders them (shapes per shared/reference/calltools.md §1-§10), and the Python API tests use.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from typing import Any, NamedTuple

from sandbox.http.messages import HttpError

PHONE_FIELDS = ("mobile_phone_number", "home_phone_number", "office_phone_number")
# Writable text fields, in the order a contact is rendered.
TEXT_FIELDS = (
    *("first_name", "last_name", "company_name", *PHONE_FIELDS, "email"),
    *("personal_email_address", "address", "city", "state", "zip_code"),
)
STATUS_DEFAULTS: dict[str, Any] = {
    **{"status": "new", "ready": True, "system_disposition": "Ready", "do_not_contact": False},
    **{"all_phone_numbers_fdnc": False, "suppress_until": None, "owned_by": None},
}
E164 = re.compile(r"\+[1-9]\d{6,14}")

Contact = dict[str, Any]


class MembershipEvent(NamedTuple):
    contact_id: int
    bucket_id: int
    action: str  # "add" | "remove"


class CallToolsStore:
    """Storage, rendering, field validation and the Python API tests use; a mixin of
    CallToolsSandbox (routes.py).

    The public methods take the server's lock (the private ones run under it), so a test's change
    never interleaves with a request.
    """

    _lock: threading.RLock  # SandboxServer's
    custom_fields: tuple[str, ...]
    undialable_prefixes: tuple[str, ...]
    _initial_buckets: dict[int, str]
    _uuid_rng: random.Random
    _next_contact: int  # the id counters: CallToolsSandbox sets them, reset() keeps them
    _next_phone: int
    _next_row: int

    def _reset_data(self) -> None:
        with self._lock:
            self._contacts: dict[int, Contact] = {}
            self._buckets: dict[int, str] = dict(self._initial_buckets)
            self._rows: dict[int, tuple[int, int]] = {}  # membership row id -> (contact, bucket)
            self._row_of: dict[tuple[int, int], int] = {}
            self._buckets_of: dict[int, list[int]] = {}
            self._phone_ids: dict[tuple[int, str], int] = {}
            self._dnc_phones: set[tuple[int, str]] = set()  # numbers a disposition marked DNC
            self._events: list[MembershipEvent] = []

    # Python API for tests

    def contacts(self) -> list[Contact]:
        with self._lock:
            return [self._render(self._contacts[cid]) for cid in sorted(self._contacts)]

    def contact(self, contact_id: int) -> Contact | None:
        with self._lock:
            c = self._contacts.get(contact_id)
            return self._render(c) if c is not None else None

    def bucket_members(self, bucket_id: int) -> set[int]:
        with self._lock:
            return {c for (c, b) in self._row_of if b == bucket_id}

    def bucket_id(self, name: str) -> int:
        with self._lock:
            for bid, bucket_name in self._buckets.items():
                if bucket_name == name:
                    return bid
        raise KeyError(name)

    def add_bucket(self, name: str, id: int | None = None) -> int:
        with self._lock:
            bid = id if id is not None else max(self._buckets, default=70000) + 1
            self._buckets[bid] = name
            return bid

    def seed_contact(self, fields: dict[str, Any]) -> Contact:
        """Store a contact as given (no validation; its `buckets` record no membership events).

        Accepts the writable fields, custom fields, status fields, `id`, `tags` and `buckets`.
        """
        with self._lock:
            data = dict(fields)
            c = self._new_contact(data.pop("id", None))
            c.update({k: v for k, v in data.items() if k in c and k not in ("uuid", "tags")})
            c["tags"] = [int(t) for t in data.get("tags", [])]
            for bid in map(int, data.get("buckets", [])):
                if bid not in self._buckets:
                    raise KeyError(f"unknown bucket {bid}")
                self._add_member(c["id"], bid, record=False)
            return self._render(c)

    @property
    def membership_events(self) -> list[MembershipEvent]:
        """Every bucket add/remove, in order; a repeated add of a member is not an event."""
        with self._lock:
            return list(self._events)

    def bucket_add_count(self, bucket_id: int) -> int:
        return sum(e.bucket_id == bucket_id and e.action == "add" for e in self.membership_events)

    def ever_in_bucket(self, contact_id: int, bucket_id: int | None = None) -> bool:
        return any(
            e.contact_id == contact_id and bucket_id in (None, e.bucket_id)
            for e in self.membership_events
        )

    # Storage

    def _new_contact(self, contact_id: Any = None) -> Contact:
        cid = self._next_contact if contact_id is None else int(contact_id)
        self._next_contact = max(self._next_contact, cid + 1)
        uid = str(uuid.UUID(int=self._uuid_rng.getrandbits(128), version=4))
        c: Contact = {"id": cid, "uuid": uid}
        c.update({f: None if f in PHONE_FIELDS else "" for f in TEXT_FIELDS})
        c.update(STATUS_DEFAULTS, tags=[])
        c.update(dict.fromkeys(self.custom_fields))
        self._contacts[cid] = c
        return c

    def _render(self, c: Contact) -> Contact:
        cid, phones = c["id"], []
        for number in filter(None, (c[f] for f in PHONE_FIELDS)):
            pid = self._phone_ids.setdefault((cid, number), self._next_phone)
            self._next_phone = max(self._next_phone, pid + 1)
            phones.append({"id": pid, "contact": cid, "phone_number": number})
            phones[-1]["do_not_contact"] = (cid, number) in self._dnc_phones
        out = {k: c[k] for k in ("id", "uuid", *TEXT_FIELDS[:6])}
        out["_phone_numbers"] = phones
        out.update({k: c[k] for k in (*TEXT_FIELDS[6:], *STATUS_DEFAULTS)})
        out.update(tags=list(c["tags"]), buckets=list(self._buckets_of.get(cid, [])))
        out.update({f: c[f] for f in self.custom_fields})
        return out

    def _add_member(self, contact_id: int, bucket_id: int, *, record: bool = True) -> int:
        row = self._row_of.get((contact_id, bucket_id))
        if row is None:
            row, self._next_row = self._next_row, self._next_row + 1
            self._rows[row] = (contact_id, bucket_id)
            self._row_of[(contact_id, bucket_id)] = row
            self._buckets_of.setdefault(contact_id, []).append(bucket_id)
            if record:
                self._events.append(MembershipEvent(contact_id, bucket_id, "add"))
        return row

    def _remove_member(self, contact_id: int, bucket_id: int) -> None:
        row = self._row_of.pop((contact_id, bucket_id), None)
        if row is not None:
            del self._rows[row]
            self._buckets_of[contact_id].remove(bucket_id)
            self._events.append(MembershipEvent(contact_id, bucket_id, "remove"))

    # Writes (requests)

    def _clean(self, data: dict[str, Any]) -> dict[str, Any]:
        """Validate the writable fields present in `data`, collecting every error as DRF does."""
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key in (k for k in (*TEXT_FIELDS, *self.custom_fields) if k in data):
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, str | int | float | None):
                errors[key] = ["Not a valid string."]  # custom fields are typed, too
                continue
            value = None if value is None else str(value).strip()
            if key in PHONE_FIELDS:
                if value and (
                    not E164.fullmatch(value) or value.startswith(self.undialable_prefixes)
                ):
                    errors[key] = ["Enter a valid, dialable phone number."]
                cleaned[key] = value or None
                continue
            # Blank text fields read back as ""; custom fields keep null.
            cleaned[key] = value if value is not None or key in self.custom_fields else ""
        if errors:
            raise HttpError(400, body=errors)
        return cleaned

    def _apply(self, c: Contact, fields: dict[str, Any], changes: dict[str, list[int]]) -> None:
        c.update(fields)
        c["tags"] = [t for t in c["tags"] if t not in changes["remove_tags"]]
        c["tags"] += [t for t in dict.fromkeys(changes["add_tags"]) if t not in c["tags"]]
        for bid in changes.get("remove_buckets", []):
            self._remove_member(c["id"], bid)
        for bid in changes.get("add_buckets", []):
            self._add_member(c["id"], bid)
