"""GoHighLevel API v2 client: the contact read the consumer needs (reference §3), the tag search
of the reconciliation and the phone/email search of the admin lookup (§4)."""

from __future__ import annotations

from typing import Any

import httpx

from chalicelib.adapters.aws.secrets import Provider, TokenAuth
from chalicelib.adapters.ghl.writes import GhlContactWrites
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import body_excerpt, json_body
from chalicelib.domain.contact import Contact, contact_from_ghl
from chalicelib.domain.errors import ConfigurationError, PermanentError, TransientError
from chalicelib.ports import LookupField, SearchPage

# Keep this many requests of GHL's window in reserve for the webhook path's re-reads.
RATE_RESERVE = 10


class GhlHttpApi:
    def __init__(
        self,
        base_url: str,
        token: str | Provider,
        *,
        version: str = "2021-07-28",
        options: ClientOptions | None = None,
    ) -> None:
        options = options or ClientOptions(max_rps=8.0)  # a retry policy of its own
        self._http = options.client(
            base_url.rstrip("/"),
            {"Version": version, "Accept": "application/json"},
            TokenAuth("Bearer", token),
        )
        self._retry = options.retry
        self._pacer = options.pacer()

    def _request(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        def send() -> httpx.Response:
            self._pacer.wait()
            response = self._http.request(method, path, **kwargs)
            try:
                self._respect_rate_headers(response)
            except TransientError:
                # A write that is not resent keeps its reply: the next call meets the cap.
                if idempotent or response.is_error:
                    raise
            return response

        response = self._retry.send("ghl", send, idempotent=idempotent)
        if response.status_code in (401, 403):
            raise ConfigurationError(f"GHL rejected the API token ({response.status_code})")
        return response

    def writer(self) -> GhlContactWrites:
        """Writes to a contact, paced and retried with these reads: one per-location budget."""
        return GhlContactWrites(self._request)

    def _respect_rate_headers(self, response: httpx.Response) -> None:
        """GHL sends no Retry-After; its X-RateLimit-* headers say when the window is spent."""
        headers = response.headers
        try:
            remaining = int(headers.get("x-ratelimit-remaining", RATE_RESERVE + 1))
            window_ms = int(headers.get("x-ratelimit-interval-milliseconds", 10_000))
            daily_left = int(headers.get("x-ratelimit-daily-remaining", RATE_RESERVE + 1))
        except ValueError:
            return
        if daily_left <= RATE_RESERVE:
            raise TransientError("GHL daily request budget is spent; retrying later")
        if remaining <= RATE_RESERVE or response.status_code == 429:
            self._pacer.hold_off(window_ms / 1000)

    def get_contact(self, contact_id: str) -> Contact | None:
        response = self._request("GET", f"/contacts/{contact_id}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise PermanentError(
                f"GHL GET contact: {response.status_code} {body_excerpt(response)}"
            )
        body = json_body(response)
        data = body.get("contact") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PermanentError("GHL GET contact: reply has no contact object")
        try:
            return contact_from_ghl(data)
        except ValueError as exc:
            raise PermanentError(f"GHL GET contact: {exc}") from exc

    def get_location_name(self, location_id: str) -> str:
        """The location's name; raises when the token cannot read it (used by `doctor`)."""
        response = self._request("GET", f"/locations/{location_id}")
        if response.status_code >= 400:
            raise PermanentError(
                f"GHL GET location: {response.status_code} {body_excerpt(response)}"
            )
        body = json_body(response)
        location = body.get("location") if isinstance(body, dict) else None
        return str(location.get("name", "")) if isinstance(location, dict) else ""

    def _search(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        """POST /contacts/search (§4): the reply's contact rows and its `total`."""
        response = self._request("POST", "/contacts/search", json=body)
        if response.status_code >= 400:
            raise PermanentError(f"GHL search: {response.status_code} {body_excerpt(response)}")
        reply = json_body(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("contacts"), list):
            raise TransientError("GHL search: reply has no contacts list")
        return [r for r in reply["contacts"] if isinstance(r, dict)], reply.get("total")

    def probe_location(self, location_id: str) -> None:
        """One search of one contact in the location: raises ConfigurationError when the token is
        refused (401/403), PermanentError on another 4xx (say, a location it cannot reach)."""
        self._search({"locationId": location_id, "pageLimit": 1})

    def search_contacts(
        self,
        location_id: str,
        tag: str,
        search_after: list[Any] | None,
        page_limit: int = 500,
    ) -> SearchPage:
        """One page of contacts carrying `tag`, oldest first, continued by `searchAfter` (§4)."""
        body: dict[str, Any] = {
            "locationId": location_id,
            "pageLimit": page_limit,
            "filters": [{"field": "tags", "operator": "eq", "value": tag}],
            "sort": [{"field": "dateAdded", "direction": "asc"}],
        }
        if search_after is not None:
            body["searchAfter"] = search_after
        rows, total = self._search(body)
        contacts = []
        for row in rows:
            try:
                contacts.append((contact_from_ghl(row), row.get("dateUpdated")))
            except ValueError:
                continue  # a malformed hit is skipped; the next run sees it again
        cursor = rows[-1].get("searchAfter") if rows else None
        return SearchPage(
            contacts=contacts,
            next_cursor=cursor if isinstance(cursor, list) and len(rows) >= page_limit else None,
            total=total if isinstance(total, int) else None,
        )

    def find_contacts(
        self, location_id: str, field: LookupField, value: str, limit: int
    ) -> list[Contact]:
        """The one place that knows how GHL is asked for a phone or an email. `email eq` is
        documented (§4); `phone eq` was reported to find nothing (§11, uncertain), so a phone
        that `eq` misses is asked again as free text (`query`, its digits). Every hit is only a
        candidate: the caller keeps the exact matches of its own location."""
        base: dict[str, Any] = {"locationId": location_id, "pageLimit": limit}
        rows, _ = self._search(
            base | {"filters": [{"field": field, "operator": "eq", "value": value}]}
        )
        if not rows and field == "phone":
            rows, _ = self._search(base | {"query": value.lstrip("+")})
        found = []
        for row in rows:
            try:
                found.append(contact_from_ghl(row))
            except ValueError:
                continue  # a malformed hit cannot be verified: not a match
        return found
