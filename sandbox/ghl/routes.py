"""GoHighLevel API v2 sandbox: one loopback server for an agency's locations (shapes per
shared/reference/gohighlevel.md §3-§6, §13).

The server is the default location (its `token`, `location_id` and the Python API of GhlLocation
act on it, as before there were others) and hosts more (`add_location`), each with its own PIT,
contacts and rate-limit budget. A request's Bearer token (a PIT, or an OAuth access token from
oauth.py) picks its location; the location answers it.

A valid token asking for another location's data (a contact that exists only there, a search or
GET /locations/{id} with its id) gets 403 {"statusCode": 403, "message": "The token does not have
access to this location."}: the token itself is good (so not 401 "Invalid JWT", kept for unknown,
revoked and expired tokens), the location is not its own. That is GHL's answer integrators report
for a PIT used with another location's id, and what the sandbox already gave a search of another
location.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from types import EllipsisType
from typing import Any

from sandbox.ghl.grants import Subject
from sandbox.ghl.location import NO_ACCESS, GhlLocation
from sandbox.ghl.oauth import WRONG_AUTH_CLASS, GhlOAuth
from sandbox.ghl.webhooks_back import WebhooksBack
from sandbox.ghl.writes import WRITE_ROUTES
from sandbox.http.messages import Handler, HttpError, Request, Response
from sandbox.http.server import SandboxServer

API_VERSION = "2021-07-28"
DEFAULT_LOCATION_ID = "Lc9Xw2TqB7mR4dNs8KfA"
DEFAULT_COMPANY_ID = "Cp5Hq8WnZ2rT6yLd3VxJ"  # the agency the sandbox's locations belong to
SANDBOX_APP_ID = "6a1f0c2e9b7d4e31a8c5f902"  # the marketplace app's id (invented)
# The contact routes a location serves: the writes, then GET (PUT shares its path, so it goes first).
CONTACT_ROUTES = (*WRITE_ROUTES, ("GET", r"/contacts/(?P<id>[^/]+)/?", "_get_contact"))
# Control endpoints on a location's data: at /_sandbox/... for the default location, and at
# /_sandbox/locations/{location}/... for any location.
LOCATION_CONTROL_ROUTES = (
    ("GET", r"/contacts/(?P<id>[^/]+)", "_admin_get"),
    ("PUT", r"/contacts/(?P<id>[^/]+)", "_admin_put"),
    ("DELETE", r"/contacts/(?P<id>[^/]+)", "_admin_delete"),
    ("POST", r"/generate", "_admin_generate"),
    ("POST", r"/contacts/(?P<id>[^/]+)/after_read", "_admin_after_read"),
    ("GET", r"/writes", "_admin_writes"),
)


class GhlSandbox(GhlLocation, GhlOAuth, SandboxServer):
    """GHL API v2 on a loopback port: token and Version checks, per-location rate limits and
    their headers, GET /contacts/{id}, POST /contacts/search, GET /locations/{id}, the writes of
    writes.py, OAuth (oauth.py), webhooks back (off until send_webhooks_to), plus its
    `/_sandbox/...` control endpoints."""

    def __init__(
        self,
        *,
        token: str = "sandbox-ghl-token",  # noqa: S107
        location_id: str = DEFAULT_LOCATION_ID,
        company_id: str = DEFAULT_COMPANY_ID,
        rate_limit: tuple[int, float] | None = (100, 10.0),
        daily_limit: int = 200_000,
        latency_ms: float = 0.0,
        port: int = 0,
        seed: int = 0,
        app_id: str = SANDBOX_APP_ID,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",  # noqa: S107
    ) -> None:
        SandboxServer.__init__(self, port=port, latency_ms=latency_ms)
        self._hosted: dict[str, GhlLocation] = {}  # the other locations, by id
        self._seed = seed
        self.app_id, self.client_id, self.client_secret = app_id, client_id, client_secret
        GhlLocation.__init__(
            self,
            lock=self._lock,
            location_id=location_id,
            token=token,
            company_id=company_id,
            rate_limit=rate_limit,
            daily_limit=daily_limit,
            seed=seed,
        )
        for method, pattern, name in CONTACT_ROUTES:
            self.route(method, pattern, partial(self._on_contact, name))
        self.route("POST", r"/contacts/search/?", partial(self._on_location, "_search"))
        self.route(
            "GET", r"/locations/(?P<id>[^/]+)/?", partial(self._on_location, "_get_location")
        )
        for method, pattern, handler in self._oauth_routes():
            self.route(method, pattern, handler)
        self.route("GET", r"/_sandbox/locations", self._admin_locations)
        self.route("POST", r"/_sandbox/locations", self._admin_add_location)
        self.route("GET", r"/_sandbox/locations/(?P<location>[^/]+)", self._admin_location)
        for prefix in (r"/_sandbox", r"/_sandbox/locations/(?P<location>[^/]+)"):
            for method, path, name in LOCATION_CONTROL_ROUTES:
                self.route(method, prefix + path, partial(self._on_control, name))

    def _reset_data(self) -> None:
        """Every location's data and every OAuth grant; the locations and their PITs stay."""
        with self._lock:
            GhlLocation._reset_data(self)
            for hosted in self._hosted.values():
                hosted._reset_data()
            self._reset_oauth()

    # Python API for tests

    def add_location(
        self,
        location_id: str | None = None,
        *,
        token: str | None = None,
        name: str | None = None,
        company_id: str | None = None,
        rate_limit: tuple[int, float] | EllipsisType | None = ...,
        daily_limit: int | None = None,
    ) -> GhlLocation:
        """Host another location; by default with a fresh id and `pit-...` token, in this
        server's company, with this server's rate limits. ValueError if the id or token is taken."""
        with self._lock:
            location_id = location_id or self._new_id(self._rng)
            token = token or f"pit-{uuid.UUID(int=self._rng.getrandbits(128), version=4)}"
            if any(loc.location_id == location_id for loc in self.locations):
                raise ValueError(f"location {location_id} exists")
            if any(loc.token == token for loc in self.locations):
                raise ValueError("that token belongs to another location")
            hosted = GhlLocation(
                lock=self._lock,
                location_id=location_id,
                token=token,
                name=name or f"Sandbox Location {len(self._hosted) + 2}",
                company_id=company_id or self.company_id,
                rate_limit=self.rate_limit if isinstance(rate_limit, EllipsisType) else rate_limit,
                daily_limit=daily_limit or self.daily_limit,
                seed=self._seed + len(self._hosted) + 1,
            )
            hosted.webhooks = self.webhooks
            self._hosted[location_id] = hosted
            return hosted

    def location(self, location_id: str) -> GhlLocation:
        """This server (the default location) or a hosted one; KeyError if there is none."""
        return self if location_id == self.location_id else self._hosted[location_id]

    @property
    def locations(self) -> list[GhlLocation]:
        with self._lock:
            return [self, *self._hosted.values()]

    def company_locations(self, company_id: str) -> list[GhlLocation]:
        return [loc for loc in self.locations if loc.company_id == company_id]

    def send_webhooks_to(self, url: str, sign: Callable[[bytes], str], app_id: str = "") -> None:
        """Send ContactTagUpdate / ContactDndUpdate to `url` after the API changes a contact's
        tags or DND (in any location), and INSTALL / UNINSTALL (send_app_event), each signed with
        `sign(body)` as `X-GHL-Signature`. A non-empty `app_id` is the app's id from then on."""
        with self._lock:
            self.webhooks = WebhooksBack(url, sign, app_id=app_id, stopping=self._stopping)
            self.app_id = app_id or self.app_id
            for hosted in self._hosted.values():
                hosted.webhooks = self.webhooks

    # Request plumbing

    def _error_json(self, status: int, message: str) -> Any:
        return {"statusCode": status, "message": message}

    def _subject_of(self, req: Request) -> Subject | None:
        """Whom the request's Bearer token speaks for: a location's PIT or an OAuth token."""
        auth = req.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        token = auth.removeprefix("Bearer ")
        for loc in self.locations:
            if token == loc.token:
                return Subject("Location", loc.location_id, loc.company_id)
        return self._oauth_subject(token)

    def _before_request(self, req: Request) -> Response | None:
        if req.path.rstrip("/") == "/oauth/token":
            return None  # client credentials in the form; no Bearer, no Version (§2)
        if (subject := self._subject_of(req)) is None:
            return 401, self._error_json(401, "Invalid JWT"), {}
        if req.headers.get("Version") != API_VERSION:
            return 400, self._error_json(400, "version header is missing or invalid"), {}
        if req.path.startswith("/oauth/"):
            return None  # the agency's endpoints: no location's budget
        if not subject.location_id:
            return 401, self._error_json(401, WRONG_AUTH_CLASS), {}
        if not self.location(subject.location_id)._charge():
            return 429, self._error_json(429, "Too many requests"), {}  # no Retry-After
        return None

    def _after_request(self, req: Request, resp: Response) -> Response:
        if req.path.startswith("/oauth/"):
            return resp
        subject = self._subject_of(req)
        loc = self.location(subject.location_id) if subject and subject.location_id else self
        return resp[0], resp[1], {**loc._rate_headers(), **resp[2]}

    def _location_of(self, req: Request) -> GhlLocation:
        subject = self._subject_of(req)
        if subject is None or not subject.location_id:  # _before_request refused these
            raise HttpError(401, "Invalid JWT")
        return self.location(subject.location_id)

    def _on_location(self, name: str, req: Request) -> Response:
        handler: Handler = getattr(self._location_of(req), name)
        return handler(req)

    def _on_contact(self, name: str, req: Request) -> Response:
        loc, cid = self._location_of(req), req.params["id"]
        if cid not in loc._contacts and any(
            cid in other._contacts for other in self.locations if other is not loc
        ):
            raise HttpError(403, NO_ACCESS)  # it exists, in a location this token cannot see
        handler: Handler = getattr(loc, name)
        return handler(req)

    # Control endpoints

    def _on_control(self, name: str, req: Request) -> Response:
        try:
            loc = self.location(req.params.get("location") or self.location_id)
        except KeyError:
            raise HttpError(404, "Location not found") from None
        handler: Handler = getattr(loc, name)
        return handler(req)

    def _admin_locations(self, req: Request) -> Response:
        return 200, {"locations": [loc.describe() for loc in self.locations]}, {}

    def _admin_location(self, req: Request) -> Response:
        try:
            return 200, self.location(req.params["location"]).describe(), {}
        except KeyError:
            raise HttpError(404, "Location not found") from None

    def _admin_add_location(self, req: Request) -> Response:
        """{"locationId"?, "token"?, "name"?, "companyId"?, "rate_limit"?: [n, s] | null,
        "daily_limit"?}: 201 with the location (and its token)."""
        data = req.json_object()
        try:
            limit = data.get("rate_limit", ...)
            rate_limit = (int(limit[0]), float(limit[1])) if limit not in (None, ...) else limit
            daily = int(data["daily_limit"]) if data.get("daily_limit") is not None else None
        except (TypeError, ValueError, IndexError) as exc:
            raise HttpError(400, f"rate_limit is [requests, seconds] or null: {exc}") from exc
        text = {k: str(data[k]) if data.get(k) else None for k in ("locationId", "token", "name")}
        try:
            loc = self.add_location(
                text["locationId"],
                token=text["token"],
                name=text["name"],
                company_id=str(data["companyId"]) if data.get("companyId") else None,
                rate_limit=rate_limit,
                daily_limit=daily,
            )
        except ValueError as exc:  # the id or the token is taken
            raise HttpError(409, str(exc)) from exc
        return 201, loc.describe(), {}
