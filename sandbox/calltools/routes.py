"""CallTools REST API sandbox: the HTTP face of a CallToolsStore (shapes per
shared/reference/calltools.md §1-§10).

What the reference is unsure of is configuration here: which bucket-assignment call works
(`bucket_method`; the other two reply 2xx and change nothing), duplicate merging, throttling.
Unknown query parameters are ignored and the whole list comes back, as Django does.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

from sandbox.calltools.drf import paginate, pk_list, whole_number
from sandbox.calltools.hooks import RestHooks
from sandbox.calltools.outcomes import CallOutcomes
from sandbox.calltools.store import PHONE_FIELDS, CallToolsStore, Contact
from sandbox.http.messages import HttpError, Request, Response
from sandbox.http.server import SandboxServer

BUCKET_METHODS = ("contact_patch", "bucket_patch", "contactbuckets")
DUPLICATE_MODES = ("allow", "merge")


class CallToolsSandbox(CallToolsStore, CallOutcomes, RestHooks, SandboxServer):
    """A CallTools account on a loopback port: token auth, an optional throttle, the contacts,
    buckets and contactbuckets endpoints, call results (outcomes.py), rest hooks (hooks.py) and
    its `/_sandbox/...` control endpoints. The data and the Python API are CallToolsStore's,
    CallOutcomes' and RestHooks'."""

    def __init__(
        self,
        *,
        token: str = "sandbox-calltools-token",  # noqa: S107
        buckets: list[dict[str, Any]] | None = None,
        dispositions: Sequence[dict[str, Any]] | None = None,
        bucket_method: str = "contact_patch",
        duplicate_mode: str = "allow",
        custom_fields: Sequence[str] = ("ghl_contact_id",),
        undialable_prefixes: Sequence[str] = ("+1222222222",),
        rate_limit_per_second: float | None = None,
        latency_ms: float = 0.0,
        hook_timeout_seconds: float = 5.0,
        port: int = 0,
        seed: int = 0,
        id_offset: int = 0,
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
        # Id counters survive reset(): an id a client kept then 404s instead of aliasing. Each
        # account is an instance of its own (its own token, base URL, data, throttle and hooks);
        # a second one takes an `id_offset`, so two accounts never share a contact, phone, row or
        # call-record id and a client that mixes them up gets 404s, not another's data.
        self._next_contact, self._next_phone, self._next_row = 48_000_000, 73_000_000, 91_000_000
        self.hook_timeout_seconds = hook_timeout_seconds
        self._init_outcomes(dispositions)
        self._next_contact += id_offset
        self._next_phone += id_offset
        self._next_row += id_offset
        self._next_record += id_offset
        self._init_hooks()
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
            *self._outcome_routes(),
            *self._hook_routes(),
        ):
            self.route(method, pattern, handler)

    @property
    def base_url(self) -> str:
        return self.url + "/api/"

    def _reset_data(self) -> None:
        with self._lock:
            super()._reset_data()
            self._reset_outcomes()
            self._reset_hooks()
            self._tokens, self._tokens_at = math.inf, time.monotonic()  # throttle starts full

    # Request plumbing

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
        return paginate(req, items, lambda: self.url.removeprefix("http://"))

    def _changes(self, data: dict[str, Any]) -> dict[str, list[int]]:
        """Parse the add/remove lists first, so a bad one rejects the request before any change."""
        changes = {k: pk_list(data, k) for k in ("add_tags", "remove_tags")}
        if self.bucket_method == "contact_patch":  # otherwise bucket keys are silently ignored
            for key in ("add_buckets", "remove_buckets"):
                changes[key] = pk_list(data, key, self._buckets)
        self._check_removal(bool(changes.get("remove_buckets")))
        return changes

    def _check_removal(self, removes: bool) -> None:
        if removes and self.refuse_removals:
            raise HttpError(400, "This bucket is locked; contacts cannot be removed from it.")

    # Contacts

    def _list_contacts(self, req: Request) -> Response:
        ids = sorted(self._contacts)
        if phone := req.arg("phone_number"):
            ids = [i for i in ids if phone in (self._contacts[i][f] for f in PHONE_FIELDS)]
        if bucket := req.arg("buckets__id"):
            bid = whole_number("buckets__id", bucket)
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
        add, remove = pk_list(data, "add_contacts"), pk_list(data, "remove_contacts")
        self._check_removal(bool(remove))
        if self.bucket_method == "bucket_patch":
            for cid in remove:
                self._remove_member(cid, bid)
            for cid in (c for c in add if c in self._contacts):
                self._add_member(cid, bid)
        return 200, self._bucket(bid), {}

    def _list_rows(self, req: Request) -> Response:
        contact, bucket = req.arg("contact_id"), req.arg("bucket_id")
        cid = whole_number("contact_id", contact) if contact else None
        bid = whole_number("bucket_id", bucket) if bucket else None
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

    def _admin_seed(self, req: Request) -> Response:
        """Store a contact as given (e.g. a test contact for `doctor --probe-contact`)."""
        return 201, self.seed_contact(req.json_object()), {}

    def _admin_state(self, req: Request) -> Response:
        buckets = [self._bucket(b) for b in sorted(self._buckets)]
        state = {"contacts": self.contacts(), "buckets": buckets}
        state["membership_events"] = [e._asdict() for e in self._events]
        state.update(call_records=self.call_records(), resthooks=self.subscriptions())
        state["resthook_errors"] = self.hook_errors()
        return 200, state, {}

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
