"""GoHighLevel API v2 sandbox (shapes per shared/reference/gohighlevel.md §3-§5).

Contacts sit in one sorted index per sort field, so `searchAfter` is a bisect and a page scans
only until `pageLimit` matches: 100,000+ contacts stay fast. Totals are cached per filter until
the data changes.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import string
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeGuard

import phonenumbers

from sandbox.http.messages import HttpError, Request, Response
from sandbox.http.server import SandboxServer

API_VERSION = "2021-07-28"
DND_CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
SORT_FIELDS = ("dateAdded", "dateUpdated")
MAX_PAGE_LIMIT, MAX_WINDOW = 500, 10_000  # documented pageLimit cap and page-paging reach
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


class GhlSandbox(SandboxServer):
    def __init__(
        self,
        *,
        token: str = "sandbox-ghl-token",  # noqa: S107
        location_id: str = "Lc9Xw2TqB7mR4dNs8KfA",
        rate_limit: tuple[int, float] | None = (100, 10.0),
        daily_limit: int = 200_000,
        latency_ms: float = 0.0,
        port: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(port=port, latency_ms=latency_ms)
        self.token = token
        self.location_id = location_id
        self.rate_limit = rate_limit  # (requests, window seconds); None = unlimited
        self.daily_limit = daily_limit
        self._rng = random.Random(seed)
        self._last_now = 0
        self._reset_data()
        self.route("GET", r"/contacts/(?P<id>[^/]+)/?", self._get_contact)
        self.route("POST", r"/contacts/search/?", self._search)
        self.route("GET", r"/locations/(?P<id>[^/]+)/?", self._get_location)
        self.route("GET", r"/_sandbox/contacts/(?P<id>[^/]+)", self._admin_get)
        self.route("PUT", r"/_sandbox/contacts/(?P<id>[^/]+)", self._admin_put)
        self.route("DELETE", r"/_sandbox/contacts/(?P<id>[^/]+)", self._admin_delete)
        self.route("POST", r"/_sandbox/generate", self._admin_generate)
        self.route("POST", r"/_sandbox/contacts/(?P<id>[^/]+)/after_read", self._admin_after_read)

    def _reset_data(self) -> None:
        with self._lock:
            self._contacts: dict[str, Contact] = {}
            self._ms: dict[str, tuple[int, int]] = {}  # id -> (dateAdded, dateUpdated) epoch ms
            self._index: dict[str, list[tuple[int, str]]] = {f: [] for f in SORT_FIELDS}
            self._tags: dict[str, frozenset[str]] = {}  # trimmed, lower-cased tags
            self._version = 0  # bumped on every write; keys the cached totals
            self._totals: dict[str, tuple[int, int]] = {}
            self._window: deque[float] = deque()  # times of the requests in the rate window
            self._daily_used = self._phone_seq = 0
            # Changes made the moment the next GET of a contact has been served (a change racing
            # the sync's own re-read).
            self._after_read: dict[str, dict[str, Any]] = {}

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

    # Request plumbing

    def _error_json(self, status: int, message: str) -> Any:
        return {"statusCode": status, "message": message}

    def _before_request(self, req: Request) -> Response | None:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, self._error_json(401, "Invalid JWT"), {}
        if req.headers.get("Version") != API_VERSION:
            return 400, self._error_json(400, "version header is missing or invalid"), {}
        now = self._prune_window()
        over = self.rate_limit is not None and len(self._window) >= self.rate_limit[0]
        if over or self._daily_used >= self.daily_limit:
            return 429, self._error_json(429, "Too many requests"), {}  # no Retry-After
        self._window.append(now)
        self._daily_used += 1
        return None

    def _prune_window(self) -> float:
        now = time.monotonic()
        if self.rate_limit is not None:
            while self._window and self._window[0] <= now - self.rate_limit[1]:
                self._window.popleft()
        return now

    def _after_request(self, req: Request, resp: Response) -> Response:
        self._prune_window()
        limit, window = self.rate_limit or (100, 10.0)  # unenforced: report the documented limit
        remaining = limit - len(self._window) if self.rate_limit else limit
        headers = {
            "X-RateLimit-Limit-Daily": str(self.daily_limit),
            "X-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self._daily_used)),
            "X-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
            "X-RateLimit-Max": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
        }
        return resp[0], resp[1], {**headers, **resp[2]}

    # API endpoints

    def _get_contact(self, req: Request) -> Response:
        c = self._contacts.get(cid := req.params["id"])
        if c is None or c.get("locationId") != self.location_id:
            raise HttpError(404, "Contact not found")
        served = self._render_get(cid)
        if (change := self._after_read.pop(cid, None)) is not None:
            self.upsert_contact({**change, "id": cid})
        return 200, {"contact": served}, {}

    def _get_location(self, req: Request) -> Response:
        """GET /locations/{id}: what `doctor` reads to prove the token reaches the location."""
        if req.params["id"] != self.location_id:
            raise HttpError(403, "The token does not have access to this location.")
        return 200, {"location": {"id": self.location_id, "name": "Sandbox Location"}}, {}

    def _search(self, req: Request) -> Response:
        body = req.json_object()
        location, limit = body.get("locationId"), body.get("pageLimit")
        if not isinstance(location, str) or not location:
            raise _invalid("locationId should not be empty")
        if location != self.location_id:
            raise HttpError(403, "The token does not have access to this location.")
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE_LIMIT:
            raise _invalid(f"pageLimit must be an integer between 1 and {MAX_PAGE_LIMIT}")
        page, after = body.get("page"), body.get("searchAfter")
        if page is not None and after is not None:
            raise _invalid("page and searchAfter cannot be used together")
        if body.get("query"):  # free-text search is not modelled; never pretend it matched
            raise _invalid("query is not supported by the sandbox")
        field, desc = _parse_sort(body.get("sort"))
        filters = body.get("filters", [])
        predicate = _compile(filters, "AND")
        index, skip = self._index[field], 0
        if after is not None:
            key = _parse_cursor(after)
            start = bisect_left(index, key) - 1 if desc else bisect_right(index, key)
        else:
            start = len(index) - 1 if desc else 0
            if page is not None:
                if not _is_int(page) or page < 1:
                    raise _invalid("page must be a positive integer")
                skip = (page - 1) * limit
                if skip + limit > MAX_WINDOW:
                    raise _invalid(f"page paging reaches at most {MAX_WINDOW} records")
        hits = self._scan(index, start, desc, location, predicate)
        found = [
            self._render_search(cid, ms) for ms, cid in itertools.islice(hits, skip, skip + limit)
        ]
        total = self._total(filters, location, predicate)
        trace = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        return 200, {"contacts": found, "total": total, "traceId": trace}, {}

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

    # Admin endpoints

    def _admin_get(self, req: Request) -> Response:
        if (c := self.contact(req.params["id"])) is None:
            raise HttpError(404, "Contact not found")
        return 200, {"contact": c}, {}

    def _admin_put(self, req: Request) -> Response:
        data = req.json_object()
        data = data["contact"] if isinstance(data.get("contact"), dict) else data
        try:
            return 200, {"contact": self.upsert_contact({**data, "id": req.params["id"]})}, {}
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from exc

    def _admin_after_read(self, req: Request) -> Response:
        """Arm a change (the fields given) to apply right after the next GET of the contact."""
        if self.contact(cid := req.params["id"]) is None:
            raise HttpError(404, "Contact not found")
        self._after_read[cid] = req.json_object()
        return 200, {"armed": cid}, {}

    def _admin_delete(self, req: Request) -> Response:
        if not self.delete_contact(req.params["id"]):
            raise HttpError(404, "Contact not found")
        return 204, None, {}

    def _admin_generate(self, req: Request) -> Response:
        data = req.json_object()
        n, tag, seed = int(data.get("n", 0)), data.get("tag", "cold lead"), int(data.get("seed", 0))
        return 201, {"ids": self.generate_contacts(n, tag, seed)}, {}


def _derive(c: Contact) -> None:
    """Recompute the name fields GHL derives."""
    first, last = c.get("firstName") or "", c.get("lastName") or ""
    full = f"{first} {last}".strip()
    c.update(name=full or None, firstNameLowerCase=first.lower() or None)
    c.update(lastNameLowerCase=last.lower() or None, fullNameLowerCase=full.lower() or None)
    c["emailLowerCase"] = (c.get("email") or "").lower() or None


def _norm_tags(tags: Any) -> frozenset[str]:
    return frozenset(str(t).strip().lower() for t in tags)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(message: str) -> HttpError:
    return HttpError(422, message)


def _parse_sort(sort: Any) -> tuple[str, bool]:
    if not sort:
        return "dateAdded", False
    if not isinstance(sort, list) or len(sort) > 2 or not all(isinstance(s, dict) for s in sort):
        raise _invalid("sort must be a list of at most 2 {field, direction} objects")
    for s in sort:
        if s.get("field") not in SORT_FIELDS:
            raise _invalid(f"sort field {s.get('field')!r} is not supported by the sandbox")
        if str(s.get("direction", "asc")).lower() not in ("asc", "desc"):
            raise _invalid("sort direction must be asc or desc")
    # Only the first key orders results; ties fall back to the id, as the cursor encodes.
    return sort[0]["field"], str(sort[0].get("direction", "asc")).lower() == "desc"


def _parse_cursor(after: Any) -> tuple[int, str]:
    if not isinstance(after, list) or len(after) != 2 or not isinstance(after[1], str):
        raise _invalid('searchAfter must be [<sort value>, "<id>"]')
    try:
        return int(after[0]), after[1]
    except (TypeError, ValueError) as exc:
        raise _invalid("searchAfter sort value must be epoch milliseconds") from exc


def _compile(filters: Any, group: str) -> Predicate:
    if not isinstance(filters, list):
        raise _invalid("filters must be an array")
    preds = [_compile_node(f) for f in filters]
    if group == "OR" and preds:
        return lambda c, t: any(p(c, t) for p in preds)
    return lambda c, t: all(p(c, t) for p in preds)


def _compile_node(node: Any) -> Predicate:
    if not isinstance(node, dict):
        raise _invalid("each filter must be an object")
    if "group" in node:
        if (group := str(node["group"]).upper()) not in ("AND", "OR"):
            raise _invalid("group must be AND or OR")
        return _compile(node.get("filters"), group)
    field, op, value = node.get("field"), node.get("operator"), node.get("value")
    negate = op in ("not_eq", "not_contains", "not_exists")
    if op in ("exists", "not_exists") and field in ("tags", "id", "email", "phone", "dnd"):
        if field == "tags":
            return lambda c, t: bool(t) != negate
        return lambda c, t: (c.get(field) not in (None, "")) != negate
    if field == "tags" and op in ("eq", "not_eq", "contains", "not_contains"):
        raw = value if isinstance(value, list) else [value]
        if not raw or not all(isinstance(v, str) and v.strip() for v in raw):
            raise _invalid("tags filter needs a non-empty string value")
        values = [str(v).strip().lower() for v in raw]
        if op in ("eq", "not_eq"):
            return lambda c, t: any(v in t for v in values) != negate
        return lambda c, t: any(v in tag for v in values for tag in t) != negate
    if field == "dnd" and op in ("eq", "not_eq"):
        if not isinstance(value, bool):
            raise _invalid("dnd filter value must be a boolean")
        return lambda c, t: (bool(c.get("dnd")) == value) != negate
    if field in ("id", "email", "phone") and op in ("eq", "not_eq"):
        if not isinstance(value, str):
            raise _invalid(f"{field} filter value must be a string")

        def norm(text: Any) -> str:  # ids are case-sensitive; emails and phones are not
            return str(text or "") if field == "id" else str(text or "").strip().lower()

        wanted = norm(value)
        return lambda c, t: (norm(c.get(field)) == wanted) != negate
    raise _invalid(f"filter {field!r} with operator {op!r} is not supported by the sandbox")
