"""CallTools REST API sandbox (shapes per shared/reference/calltools.md §1-§10).

What the reference is unsure of is configuration here: which bucket-assignment call works
(`bucket_method`; the other two reply 2xx and change nothing), duplicate merging, throttling.
Unknown query parameters are ignored and the whole list comes back, as Django does.
"""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from collections.abc import Container, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

from sandbox.http.messages import HttpError, Request, Response
from sandbox.http.server import SandboxServer

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
BUCKET_METHODS = ("contact_patch", "bucket_patch", "contactbuckets")
DUPLICATE_MODES = ("allow", "merge")
E164 = re.compile(r"\+[1-9]\d{6,14}")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 250

Contact = dict[str, Any]


class MembershipEvent(NamedTuple):
    contact_id: int
    bucket_id: int
    action: str  # "add" | "remove"


class CallToolsSandbox(SandboxServer):
    def __init__(
        self,
        *,
        token: str = "sandbox-calltools-token",  # noqa: S107
        buckets: list[dict[str, Any]] | None = None,
        bucket_method: str = "contact_patch",
        duplicate_mode: str = "allow",
        custom_fields: Sequence[str] = ("ghl_contact_id",),
        undialable_prefixes: Sequence[str] = ("+1222222222",),
        rate_limit_per_second: float | None = None,
        latency_ms: float = 0.0,
        port: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(port=port, latency_ms=latency_ms)
        _check_choice("bucket_method", bucket_method, BUCKET_METHODS)
        _check_choice("duplicate_mode", duplicate_mode, DUPLICATE_MODES)
        self.token = token
        self.bucket_method = bucket_method
        self.duplicate_mode = duplicate_mode
        self.custom_fields = tuple(custom_fields)
        self.undialable_prefixes = tuple(undialable_prefixes)
        self.rate_limit_per_second = rate_limit_per_second
        # Answer every bucket removal with a 400 (a locked bucket, an account-side rule): tests
        # of a removal that must be retried until CallTools takes it.
        self.refuse_removals = False
        buckets = buckets if buckets is not None else [{"id": 70412, "name": "Cold Leads"}]
        self._initial_buckets = {int(b["id"]): str(b["name"]) for b in buckets}
        self._uuid_rng = random.Random(seed)
        # Id counters survive reset(): an id a client kept then 404s instead of aliasing.
        self._next_contact, self._next_phone, self._next_row = 48_000_000, 73_000_000, 91_000_000
        self._reset_data()
        for method, pattern, handler in (
            ("GET", r"/api/contacts/", self._list_contacts),
            ("POST", r"/api/contacts/", self._create_contact),
            ("GET", r"/api/contacts/(?P<id>\d+)/", self._get_contact),
            ("PATCH", r"/api/contacts/(?P<id>\d+)/", self._patch_contact),
            ("DELETE", r"/api/contacts/(?P<id>\d+)/", self._delete_contact),
            ("GET", r"/api/buckets/", self._list_buckets),
            ("GET", r"/api/buckets/(?P<id>\d+)/", self._get_bucket),
            ("PATCH", r"/api/buckets/(?P<id>\d+)/", self._patch_bucket),
            ("GET", r"/api/contactbuckets/", self._list_rows),
            ("POST", r"/api/contactbuckets/", self._create_row),
            ("DELETE", r"/api/contactbuckets/(?P<id>\d+)/", self._delete_row),
            ("GET", r"/_sandbox/state", self._admin_state),
            ("POST", r"/_sandbox/config", self._admin_config),
            ("POST", r"/_sandbox/contacts", self._admin_seed),
        ):
            self.route(method, pattern, handler)

    def _admin_seed(self, req: Request) -> Response:
        """Store a contact as given (e.g. a test contact for `doctor --probe-contact`)."""
        return 201, self.seed_contact(req.json_object()), {}

    @property
    def base_url(self) -> str:
        return self.url + "/api/"

    def _reset_data(self) -> None:
        with self._lock:
            self._contacts: dict[int, Contact] = {}
            self._buckets: dict[int, str] = dict(self._initial_buckets)
            self._rows: dict[int, tuple[int, int]] = {}  # membership row id -> (contact, bucket)
            self._row_of: dict[tuple[int, int], int] = {}
            self._buckets_of: dict[int, list[int]] = {}
            self._phone_ids: dict[tuple[int, str], int] = {}
            self._events: list[MembershipEvent] = []
            self._tokens, self._tokens_at = math.inf, time.monotonic()  # throttle starts full

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
            phones[-1]["do_not_contact"] = False
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

    def _find(self, contact_id: str) -> Contact:
        if (c := self._contacts.get(int(contact_id))) is None:
            raise HttpError(404, "Not found.")
        return c

    def _bucket(self, bucket_id: int | str) -> dict[str, Any]:
        if (bid := int(bucket_id)) not in self._buckets:
            raise HttpError(404, "Not found.")
        count = sum(b == bid for (_, b) in self._row_of)
        return {
            **{"id": bid, "name": self._buckets[bid], "count": count},
            **{"filter_state_hours_holidays": True, "warning_message": None},
        }

    # Request plumbing

    def _before_request(self, req: Request) -> Response | None:
        if req.headers.get("Authorization") != f"Token {self.token}":
            return 401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"}
        if rate := self.rate_limit_per_second:  # a token bucket, so fractional rates work
            now, burst = time.monotonic(), max(1.0, rate)
            self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens < 1.0:
                wait = math.ceil((1.0 - self._tokens) / rate)
                detail = f"Request was throttled. Expected available in {wait} seconds."
                return 429, {"detail": detail}, {"Retry-After": str(wait)}
            self._tokens -= 1.0
        return None

    def _paginate(self, req: Request, items: list[Any]) -> Response:
        size = _int_or(req.arg("page_size"), DEFAULT_PAGE_SIZE)
        size = min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE
        pages = max(1, math.ceil(len(items) / size))
        page = _int_or(req.arg("page"), 1)
        if not 1 <= page <= pages:
            raise HttpError(404, "Invalid page.")
        host = req.headers.get("Host") or self.url.removeprefix("http://")

        def link(n: int) -> str:  # as DRF builds them: sorted params, no page param for page 1
            params = {k: v for k, v in req.query.items() if k != "page"}
            params.update({"page": [str(n)]} if n > 1 else {})
            query = urlencode(sorted(params.items()), doseq=True)
            return f"http://{host}{req.path}" + (f"?{query}" if query else "")

        body: dict[str, Any] = {
            "count": len(items),
            "next": link(page + 1) if page < pages else None,
        }
        body["previous"] = link(page - 1) if page > 1 else None
        body["results"] = items[(page - 1) * size : page * size]
        return 200, body, {}

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

    def _ids(
        self, data: dict[str, Any], key: str, known: Container[int] | None = None
    ) -> list[int]:
        value = data.get(key, [])
        if not isinstance(value, list):
            kind = type(value).__name__
            raise HttpError(400, body={key: [f'Expected a list of items but got type "{kind}".']})
        for item in value:
            if isinstance(item, bool) or not str(item).isdigit():
                raise HttpError(400, body={key: ["Incorrect type. Expected pk value."]})
            if known is not None and int(item) not in known:
                raise HttpError(400, body={key: [f'Invalid pk "{item}" - object does not exist.']})
        return [int(item) for item in value]

    def _changes(self, data: dict[str, Any]) -> dict[str, list[int]]:
        """Parse the add/remove lists first, so a bad one rejects the request before any change."""
        changes = {k: self._ids(data, k) for k in ("add_tags", "remove_tags")}
        if self.bucket_method == "contact_patch":  # otherwise bucket keys are silently ignored
            for key in ("add_buckets", "remove_buckets"):
                changes[key] = self._ids(data, key, self._buckets)
        self._check_removal(bool(changes.get("remove_buckets")))
        return changes

    def _check_removal(self, removes: bool) -> None:
        if removes and self.refuse_removals:
            raise HttpError(400, "This bucket is locked; contacts cannot be removed from it.")

    def _apply(self, c: Contact, fields: dict[str, Any], changes: dict[str, list[int]]) -> None:
        c.update(fields)
        c["tags"] = [t for t in c["tags"] if t not in changes["remove_tags"]]
        c["tags"] += [t for t in dict.fromkeys(changes["add_tags"]) if t not in c["tags"]]
        for bid in changes.get("remove_buckets", []):
            self._remove_member(c["id"], bid)
        for bid in changes.get("add_buckets", []):
            self._add_member(c["id"], bid)

    # Contacts

    def _list_contacts(self, req: Request) -> Response:
        ids = sorted(self._contacts)
        if phone := req.arg("phone_number"):
            ids = [i for i in ids if phone in (self._contacts[i][f] for f in PHONE_FIELDS)]
        if bucket := req.arg("buckets__id"):
            bid = _whole_number("buckets__id", bucket)
            ids = [i for i in ids if bid in self._buckets_of.get(i, [])]
        if first := req.arg("first_name"):
            ids = [i for i in ids if self._contacts[i]["first_name"] == first]
        return self._paginate(req, [self._render(self._contacts[i]) for i in ids])

    def _create_contact(self, req: Request) -> Response:
        data = req.json_object()
        fields, changes = self._clean(data), self._changes(data)
        phones = {fields[f] for f in PHONE_FIELDS if fields.get(f)}
        if self.duplicate_mode == "merge" and phones:
            for cid in sorted(self._contacts):
                if phones & {self._contacts[cid][f] for f in PHONE_FIELDS}:
                    # Only non-empty values overwrite, as the brief says (calltools.md §5 warns
                    # that the real merge may let blanks overwrite).
                    given = {k: v for k, v in fields.items() if v not in (None, "")}
                    self._apply(self._contacts[cid], given, changes)
                    return 200, {"duplicate_contacts": [cid], "duplicate_action": "MERGE"}, {}
        c = self._new_contact()
        self._apply(c, fields, changes)
        return 201, self._render(c), {}

    def _get_contact(self, req: Request) -> Response:
        return 200, self._render(self._find(req.params["id"])), {}

    def _patch_contact(self, req: Request) -> Response:
        c, data = self._find(req.params["id"]), req.json_object()
        self._apply(c, self._clean(data), self._changes(data))
        return 200, self._render(c), {}

    def _delete_contact(self, req: Request) -> Response:
        c = self._find(req.params["id"])
        for bid in list(self._buckets_of.get(c["id"], [])):
            self._remove_member(c["id"], bid)
        del self._contacts[c["id"]]
        return 204, None, {}

    # Buckets and membership rows

    def _list_buckets(self, req: Request) -> Response:
        return self._paginate(req, [self._bucket(b) for b in sorted(self._buckets)])

    def _get_bucket(self, req: Request) -> Response:
        return 200, self._bucket(req.params["id"]), {}

    def _patch_bucket(self, req: Request) -> Response:
        bid, data = self._bucket(req.params["id"])["id"], req.json_object()
        add, remove = self._ids(data, "add_contacts"), self._ids(data, "remove_contacts")
        self._check_removal(bool(remove))
        if self.bucket_method == "bucket_patch":
            for cid in remove:
                self._remove_member(cid, bid)
            for cid in (c for c in add if c in self._contacts):
                self._add_member(cid, bid)
        return 200, self._bucket(bid), {}

    def _list_rows(self, req: Request) -> Response:
        contact, bucket = req.arg("contact_id"), req.arg("bucket_id")
        cid = _whole_number("contact_id", contact) if contact else None
        bid = _whole_number("bucket_id", bucket) if bucket else None
        rows = [
            {"id": row, "contact": c, "bucket": b}
            for row, (c, b) in sorted(self._rows.items())
            if cid in (None, c) and bid in (None, b)
        ]
        return self._paginate(req, rows)

    def _create_row(self, req: Request) -> Response:
        data, errors = req.json_object(), dict[str, list[str]]()
        for key, known in (("contact", self._contacts), ("bucket", self._buckets)):
            if (value := data.get(key)) is None:
                errors[key] = ["This field is required."]
            elif isinstance(value, bool) or not str(value).isdigit() or int(value) not in known:
                errors[key] = [f'Invalid pk "{value}" - object does not exist.']
        if errors:
            raise HttpError(400, body=errors)
        cid, bid = int(data["contact"]), int(data["bucket"])
        if self.bucket_method != "contactbuckets":
            row, self._next_row = self._next_row, self._next_row + 1  # a reply, nothing stored
        elif (cid, bid) in self._row_of:
            unique = "The fields contact, bucket must make a unique set."
            raise HttpError(400, body={"non_field_errors": [unique]})
        else:
            row = self._add_member(cid, bid)
        return 201, {"id": row, "contact": cid, "bucket": bid}, {}

    def _delete_row(self, req: Request) -> Response:
        row = int(req.params["id"])
        self._check_removal(True)
        if self.bucket_method == "contactbuckets":  # otherwise: 204, nothing removed
            if row not in self._rows:
                raise HttpError(404, "Not found.")
            self._remove_member(*self._rows[row])
        return 204, None, {}

    # Admin endpoints

    def _admin_state(self, req: Request) -> Response:
        buckets = [self._bucket(b) for b in sorted(self._buckets)]
        events = [e._asdict() for e in self._events]
        return (
            200,
            {"contacts": self.contacts(), "buckets": buckets, "membership_events": events},
            {},
        )

    def _admin_config(self, req: Request) -> Response:
        data = req.json_object()
        try:
            method = str(data.get("bucket_method", self.bucket_method))
            mode = str(data.get("duplicate_mode", self.duplicate_mode))
            _check_choice("bucket_method", method, BUCKET_METHODS)
            _check_choice("duplicate_mode", mode, DUPLICATE_MODES)
            rate = data.get("rate_limit_per_second", self.rate_limit_per_second)
            rate = float(rate) if rate is not None else None
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from exc
        self.bucket_method, self.duplicate_mode, self.rate_limit_per_second = method, mode, rate
        self.refuse_removals = bool(data.get("refuse_removals", self.refuse_removals))
        config = {
            "bucket_method": method,
            "duplicate_mode": mode,
            "rate_limit_per_second": rate,
            "refuse_removals": self.refuse_removals,
        }
        return 200, config, {}


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {value!r}")


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return 0 if value else default  # a bad page is "Invalid page."; a bad size, the default


def _whole_number(key: str, value: str) -> int:
    if not value.strip().isdigit():
        raise HttpError(400, body={key: ["Enter a whole number."]})
    return int(value)
