"""The contacts of a sandbox GoHighLevel location, as GET and search render them (shapes per
shared/reference/gohighlevel.md §3-§5).

Contacts sit in one sorted index per sort field, so `searchAfter` is a bisect and a page scans
only until `pageLimit` matches: 100,000+ contacts stay fast. Totals are cached per filter until
the data changes.
"""

from __future__ import annotations

import copy
import json
import random
import string
import threading
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import phonenumbers

DND_CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
SORT_FIELDS = ("dateAdded", "dateUpdated")
# Key order of GET /contacts/{id} and of a search hit (the fixtures' order).
GET_ORDER = (
    *("id", "name", "locationId", "firstName", "lastName", "firstNameLowerCase"),
    *("lastNameLowerCase", "fullNameLowerCase", "email", "emailLowerCase", "timezone"),
    *("companyName", "phone", "dnd", "dndSettings", "type", "source", "assignedTo", "address1"),
    *("city", "state", "country", "postalCode", "website", "tags", "dateOfBirth", "dateAdded"),
    *("dateUpdated", "attachments", "customFields"),
)
SEARCH_ORDER = (
    *("id", "additionalEmails", "additionalPhones", "address", "assignedTo", "city"),
    *("companyName", "country", "customFields", "dateAdded", "dateUpdated", "dnd", "dndSettings"),
    *("email", "firstName", "lastName", "firstNameLowerCase", "lastNameLowerCase", "followers"),
    *("locationId", "phone", "phoneLabel", "postalCode", "source", "state", "tags", "type"),
    *("validEmail", "website"),
)
_GET_ONLY = {"name", "fullNameLowerCase", "emailLowerCase", "timezone", "attachments"}
_ID_CHARS = string.ascii_letters + string.digits
_FIRST = "Avery Marcus Priya Jonah Tamsin Oskar Leona Ravi Mirela Dorian Ines Callum Yara Emeka"
_LAST = "Lindqvist Oduya Raman Whitcombe Ferreira Nakamura Brandt Okafor Castellano Hale Petrov"
_EXTRA_TAGS = ("facebook lead", "webinar signup", "newsletter", "referral")

# Area codes whose 555-01xx numbers pass phonenumbers' validity check, so generated
# contacts are dialable as far as the sync can tell.
_AREA_CODES = [
    ac
    for ac in range(201, 990)
    if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{ac}5550100"))
]

Contact = dict[str, Any]
# A search filter, compiled (sandbox/ghl/search.py): a stored contact and its normalised tags.
Predicate = Callable[[Contact, frozenset[str]], bool]


def iso(ms: int) -> str:
    """Epoch milliseconds → GHL's ISO 8601 form, e.g. 2026-01-12T16:20:31.482Z."""
    stamp = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms % 1000:03d}Z"


def to_ms(value: Any) -> int:
    """ISO 8601 string, datetime (naive = UTC) or epoch ms → epoch ms."""
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return to_ms(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _dnd_settings(call_status: str = "inactive") -> dict[str, Any]:
    return {
        ch: {"status": call_status if ch == "Call" else "inactive", "message": "", "code": ""}
        for ch in DND_CHANNELS
    }


_DEFAULT_DND = _dnd_settings()  # shared by new contacts; stored values are replaced, not mutated


class GhlStore:
    """Storage, rendering and the Python API tests use; a mixin of GhlLocation (location.py).

    The public methods take the server's lock (the private ones run under it), so a test's change
    never interleaves with a request.
    """

    _lock: threading.RLock  # SandboxServer's
    location_id: str
    _rng: random.Random  # ids and search trace ids, seeded
    _last_now: int

    def _reset_data(self) -> None:
        with self._lock:
            self._contacts: dict[str, Contact] = {}
            self._ms: dict[str, tuple[int, int]] = {}  # id -> (dateAdded, dateUpdated) epoch ms
            self._index: dict[str, list[tuple[int, str]]] = {f: [] for f in SORT_FIELDS}
            self._tags: dict[str, frozenset[str]] = {}  # trimmed, lower-cased tags
            self._version = 0  # bumped on every write; keys the cached totals
            self._totals: dict[str, tuple[int, int]] = {}
            self._phone_seq = 0

    # Python API for tests

    def upsert_contact(self, contact: dict[str, Any]) -> Contact:
        """Create or update (given keys override stored ones); returns the GET shape."""
        with self._lock:
            data = copy.deepcopy(contact)
            cid = str(data.pop("id", None) or self._new_id(self._rng))
            if "address" in data:
                data.setdefault("address1", data.pop("address"))
            added_raw, updated_raw = data.pop("dateAdded", None), data.pop("dateUpdated", None)
            old = self._contacts.get(cid)
            c = {**(old if old is not None else self._defaults()), **data, "id": cid}
            _derive(c)
            now = self._now_ms()
            added = self._ms[cid][0] if old is not None else now
            added = to_ms(added_raw) if added_raw is not None else added
            self._put(c, added, to_ms(updated_raw) if updated_raw is not None else now)
            return self._render_get(cid)

    def delete_contact(self, contact_id: str) -> bool:
        with self._lock:
            if contact_id not in self._contacts:
                return False
            self._unindex(contact_id)
            del self._contacts[contact_id], self._ms[contact_id], self._tags[contact_id]
            self._version += 1
            return True

    def contact(self, contact_id: str) -> Contact | None:
        with self._lock:
            return self._render_get(contact_id) if contact_id in self._contacts else None

    def count(self) -> int:
        with self._lock:
            return len(self._contacts)

    def set_tags(self, contact_id: str, tags: list[str]) -> Contact:
        return self._touch(contact_id, {"tags": list(tags)})

    def set_dnd(self, contact_id: str, on: bool) -> Contact:
        """Set `dnd` and dndSettings.Call.status (other channels kept); bumps dateUpdated."""
        with self._lock:
            stored = self._contacts[contact_id].get("dndSettings") or {}
            settings = {**_dnd_settings(), **stored}
            settings["Call"] = _dnd_settings("active" if on else "inactive")["Call"]
            return self._touch(contact_id, {"dnd": on, "dndSettings": settings})

    def generate_contacts(
        self, n: int, tag: str | None = "cold lead", seed: int = 0, start: datetime | None = None
    ) -> list[str]:
        """Bulk-create invented contacts; returns their ids in dateAdded order."""
        rng = random.Random(seed)
        firsts, lasts = _FIRST.split(), _LAST.split()
        # By default the last one is at least an hour old, so no dateUpdated lies in the future.
        ms = to_ms(start) if start is not None else self._now_ms() - n * 90_000 - 3_600_000
        ids: list[str] = []
        with self._lock:
            for _ in range(n):
                cid, first, last = self._new_id(rng), rng.choice(firsts), rng.choice(lasts)
                block, line = divmod(self._phone_seq, 100)
                self._phone_seq += 1
                # +1 NXX-555-01xx; the area code (then the exchange) varies to stay unique.
                area, exchange = (
                    _AREA_CODES[block % len(_AREA_CODES)],
                    555 + block // len(_AREA_CODES),
                )
                phone = f"+1{area}{exchange}01{line:02d}"
                tags = [tag] if tag else []
                if rng.random() < 0.3:
                    tags.insert(0, rng.choice(_EXTRA_TAGS))
                email = f"{first}.{last}.{self._phone_seq}@example.com".lower()
                c = {**self._defaults(), "id": cid, "firstName": first, "lastName": last}
                c.update(email=email, phone=phone, tags=tags, source="sandbox", country="US")
                _derive(c)
                updated = ms + rng.randrange(3_600_000)
                self._contacts[cid], self._ms[cid] = c, (ms, updated)
                self._tags[cid] = _norm_tags(tags)
                self._index["dateAdded"].append((ms, cid))
                self._index["dateUpdated"].append((updated, cid))
                ids.append(cid)
                ms += rng.choice((0, 1, 1_000, 60_000, 90_000))  # 0: equal dateAdded, on purpose
            for index in self._index.values():
                index.sort()  # nearly sorted already, so cheap
            self._version += 1
            ids.sort(key=lambda i: (self._ms[i][0], i))  # the order a dateAdded search returns
        return ids

    # Storage

    def _now_ms(self) -> int:
        """Wall-clock ms, but strictly increasing, so every write gets a later dateUpdated."""
        self._last_now = max(int(time.time() * 1000), self._last_now + 1)
        return self._last_now

    def _new_id(self, rng: random.Random) -> str:
        while (cid := "".join(rng.choices(_ID_CHARS, k=20))) in self._contacts:
            pass
        return cid

    def _defaults(self) -> Contact:
        return {
            **{"locationId": self.location_id, "dnd": False, "dndSettings": _DEFAULT_DND},
            **{"type": "lead", "tags": [], "attachments": [], "customFields": []},
        }

    def _unindex(self, cid: str) -> None:
        for field, ms in zip(SORT_FIELDS, self._ms[cid], strict=True):
            index = self._index[field]
            del index[bisect_left(index, (ms, cid))]

    def _put(self, c: Contact, added: int, updated: int) -> None:
        cid = c["id"]
        if cid in self._ms:
            self._unindex(cid)
        self._contacts[cid], self._ms[cid] = c, (added, updated)
        self._tags[cid] = _norm_tags(c.get("tags") or [])
        insort(self._index["dateAdded"], (added, cid))
        insort(self._index["dateUpdated"], (updated, cid))
        self._version += 1

    def _touch(self, cid: str, changes: dict[str, Any]) -> Contact:
        with self._lock:
            added, updated = self._ms[cid]
            self._put({**self._contacts[cid], **changes}, added, max(self._now_ms(), updated + 1))
            return self._render_get(cid)

    def _render_get(self, cid: str, deep: bool = True) -> Contact:
        c = self._contacts[cid]
        added, updated = self._ms[cid]
        full = {**c, "dateAdded": iso(added), "dateUpdated": iso(updated)}
        keys = [*GET_ORDER, *(k for k in c if k not in GET_ORDER)]
        out: Contact = {k: full[k] for k in keys if full.get(k) is not None}
        # Python callers get a deep copy; HTTP replies may share values (never mutated in place).
        return json.loads(json.dumps(out)) if deep else out

    def _render_search(self, cid: str, sort_ms: int) -> Contact:
        c = self._render_get(cid, deep=False)
        c["address"] = c.pop("address1", None)
        # Search hits often carry dndSettings {} (see the fixture): keep only real settings.
        if all(v.get("status") == "inactive" for v in (c.get("dndSettings") or {}).values()):
            c["dndSettings"] = {}
        extras: Contact = {"additionalEmails": [], "additionalPhones": [], "followers": []}
        extras.update(phoneLabel="Mobile" if c.get("phone") else None)
        extras.update(validEmail=True if c.get("email") else None)
        full = {**extras, **c}
        keys = [*SEARCH_ORDER, *(k for k in c if k not in SEARCH_ORDER)]
        out = {k: full[k] for k in keys if full.get(k) is not None and k not in _GET_ONLY}
        out["searchAfter"] = [sort_ms, cid]
        return out

    # Queries (search)

    def _scan(
        self, index: list[tuple[int, str]], start: int, desc: bool, loc: str, pred: Predicate
    ) -> Iterator[tuple[int, str]]:
        contacts, tags = self._contacts, self._tags
        for i in range(start, -1, -1) if desc else range(start, len(index)):
            ms, cid = index[i]
            c = contacts[cid]
            if c["locationId"] == loc and pred(c, tags[cid]):
                yield ms, cid

    def _total(self, filters: Any, loc: str, pred: Predicate) -> int:
        key = json.dumps([filters, loc], sort_keys=True)
        cached = self._totals.get(key)
        if cached is None or cached[0] != self._version:
            total = sum(1 for _ in self._scan(self._index["dateAdded"], 0, False, loc, pred))
            cached = self._totals[key] = (self._version, total)
        return cached[1]


def _derive(c: Contact) -> None:
    """Recompute the name fields GHL derives."""
    first, last = c.get("firstName") or "", c.get("lastName") or ""
    full = f"{first} {last}".strip()
    c.update(name=full or None, firstNameLowerCase=first.lower() or None)
    c.update(lastNameLowerCase=last.lower() or None, fullNameLowerCase=full.lower() or None)
    c["emailLowerCase"] = (c.get("email") or "").lower() or None


def _norm_tags(tags: Any) -> frozenset[str]:
    return frozenset(str(t).strip().lower() for t in tags)
