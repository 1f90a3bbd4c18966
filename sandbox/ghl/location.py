"""One sandbox GoHighLevel location (sub-account): its contacts (store.py), writes (writes.py),
rate-limit budget and the API requests that read it (shapes per shared/reference/gohighlevel.md
§3-§5). GhlSandbox (routes.py) is the default location and hosts the others; it authenticates a
request and hands it to the location its token belongs to.

GHL counts requests per app per location (§5), so each location has its own 100 / 10 s window
and daily budget: one busy location never throttles another.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import deque
from typing import Any

from sandbox.ghl.search import (
    MAX_PAGE_LIMIT,
    MAX_WINDOW,
    compile_filters,
    compile_query,
    invalid,
    is_int,
    parse_cursor,
    parse_sort,
)
from sandbox.ghl.store import GhlStore
from sandbox.ghl.webhooks_back import WebhooksBack
from sandbox.ghl.writes import GhlWrites
from sandbox.http.messages import HttpError, Request, Response

NO_ACCESS = "The token does not have access to this location."


class GhlLocation(GhlStore, GhlWrites):
    """A location's data, budget and request handlers; its public methods take the shared lock."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        location_id: str,
        token: str,
        name: str = "Sandbox Location",
        company_id: str = "",
        rate_limit: tuple[int, float] | None = (100, 10.0),
        daily_limit: int = 200_000,
        seed: int = 0,
    ) -> None:
        self._lock = lock  # the server's: a request and a test's change never interleave
        self.location_id = location_id
        self.token = token  # its Private Integration Token
        self.name = name
        self.company_id = company_id
        self.rate_limit = rate_limit  # (requests, window seconds); None = unlimited
        self.daily_limit = daily_limit
        self._rng = random.Random(seed)
        self._last_now = 0
        self.webhooks: WebhooksBack | None = None
        self._reset_data()

    def _reset_data(self) -> None:
        with self._lock:
            GhlStore._reset_data(self)
            self._reset_writes()
            self._window: deque[float] = deque()  # times of the requests in the rate window
            self._daily_used = 0
            # Changes made the moment the next GET of a contact has been served (a change racing
            # the sync's own re-read).
            self._after_read: dict[str, dict[str, Any]] = {}

    def has_contact(self, contact_id: str) -> bool:
        with self._lock:
            return contact_id in self._contacts

    # Rate limits (§5)

    def _charge(self) -> bool:
        """Count one request against the budget; False if it is spent (answer 429)."""
        now = self._prune_window()
        over = self.rate_limit is not None and len(self._window) >= self.rate_limit[0]
        if over or self._daily_used >= self.daily_limit:
            return False
        self._window.append(now)
        self._daily_used += 1
        return True

    def _prune_window(self) -> float:
        now = time.monotonic()
        if self.rate_limit is not None:
            while self._window and self._window[0] <= now - self.rate_limit[1]:
                self._window.popleft()
        return now

    def _rate_headers(self) -> dict[str, str]:
        self._prune_window()
        limit, window = self.rate_limit or (100, 10.0)  # unenforced: report the documented limit
        remaining = limit - len(self._window) if self.rate_limit else limit
        return {
            "X-RateLimit-Limit-Daily": str(self.daily_limit),
            "X-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self._daily_used)),
            "X-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
            "X-RateLimit-Max": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
        }

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
            raise HttpError(403, NO_ACCESS)
        location = {"id": self.location_id, "name": self.name}
        if self.company_id:
            location["companyId"] = self.company_id
        return 200, {"location": location}, {}

    def _search(self, req: Request) -> Response:
        body = req.json_object()
        location, limit = body.get("locationId"), body.get("pageLimit")
        if not isinstance(location, str) or not location:
            raise invalid("locationId should not be empty")
        if location != self.location_id:
            raise HttpError(403, NO_ACCESS)
        if not is_int(limit) or not 1 <= limit <= MAX_PAGE_LIMIT:
            raise invalid(f"pageLimit must be an integer between 1 and {MAX_PAGE_LIMIT}")
        page, after = body.get("page"), body.get("searchAfter")
        if page is not None and after is not None:
            raise invalid("page and searchAfter cannot be used together")
        field, desc = parse_sort(body.get("sort"))
        filters, query = body.get("filters", []), body.get("query")
        matches, text = compile_filters(filters), compile_query(query)

        def predicate(c: dict[str, Any], tags: frozenset[str]) -> bool:
            return matches(c, tags) and text(c, tags)

        index, skip = self._index[field], 0
        if after is not None:
            key = parse_cursor(after)
            start = bisect_left(index, key) - 1 if desc else bisect_right(index, key)
        else:
            start = len(index) - 1 if desc else 0
            if page is not None:
                if not is_int(page) or page < 1:
                    raise invalid("page must be a positive integer")
                skip = (page - 1) * limit
                if skip + limit > MAX_WINDOW:
                    raise invalid(f"page paging reaches at most {MAX_WINDOW} records")
        hits = self._scan(index, start, desc, location, predicate)
        found = [
            self._render_search(cid, ms) for ms, cid in itertools.islice(hits, skip, skip + limit)
        ]
        total = self._total([filters, query], location, predicate)
        trace = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        return 200, {"contacts": found, "total": total, "traceId": trace}, {}

    # Control endpoints (`/_sandbox/...`, and `/_sandbox/locations/{location}/...`)

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

    def describe(self) -> dict[str, Any]:
        """The location as GET /_sandbox/locations lists it (a sandbox: its token included)."""
        with self._lock:
            return {
                "locationId": self.location_id,
                "name": self.name,
                "companyId": self.company_id,
                "token": self.token,
                "contacts": len(self._contacts),
                "rate_limit": list(self.rate_limit) if self.rate_limit else None,
                "daily_limit": self.daily_limit,
            }
