"""GoHighLevel's OAuth for a marketplace app, in the sandbox (gohighlevel.md §2, §13); a mixin of
GhlSandbox (routes.py). The installs and tokens themselves are grants.py's.

A test (or `make run`'s operator) plays the user: `authorize()` (POST /_sandbox/oauth/code) is the
marketplace install done in a browser, and returns the code GHL would put in the redirect. Then
the product, over HTTP: `POST /oauth/token` (form-encoded, no Version header) exchanges a code or
a refresh token for an access token (expires_in 86399) and a NEW refresh token; the old refresh
token stops working at once, so of two refreshes with one token exactly one succeeds (handlers
run under the server's lock). An agency (Company) token gets a location's token from
`POST /oauth/locationToken` and lists the installs from `GET /oauth/installedLocations`. An
access token authorizes exactly like its location's PIT.

Error bodies of /oauth/token follow RFC 6749 §5.2 (`{"error": "invalid_grant", ...}`, 400; a
wrong client 401): GHL's exact wording there is not documented [uncertain]. Bearer endpoints answer
in GHL's usual `{"statusCode", "message"}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.ghl.grants import INSTALLER_USER_ID, Grants, Subject
from sandbox.ghl.location import GhlLocation
from sandbox.ghl.webhooks_back import WebhooksBack, app_event_body
from sandbox.http.messages import FORM, Handler, HttpError, Request, Response

# What GHL answers a token of the wrong class (an agency token on a location's endpoint, or the
# reverse); reported by integrators, not documented [uncertain].
WRONG_AUTH_CLASS = (
    "This authClass type is not allowed to access this scope. "
    "Please reach out to the Platform team to get it added."
)
NO_COMPANY_ACCESS = "The token does not have access to this company."


def _oauth_error(status: int, error: str, description: str) -> HttpError:
    return HttpError(status, description, {"error": error, "error_description": description})


class GhlOAuth:
    _lock: threading.RLock  # SandboxServer's
    app_id: str
    client_id: str
    client_secret: str
    webhooks: WebhooksBack | None
    location: Callable[[str], GhlLocation]  # GhlSandbox's; KeyError for an unknown id
    company_locations: Callable[[str], list[GhlLocation]]
    _subject_of: Callable[[Request], Subject | None]

    def _reset_oauth(self) -> None:
        with self._lock:
            self._grants = Grants()

    def _oauth_routes(self) -> Sequence[tuple[str, str, Handler]]:
        return (
            ("POST", r"/oauth/token/?", self._token),
            ("POST", r"/oauth/locationToken/?", self._location_token),
            ("GET", r"/oauth/installedLocations/?", self._installed_locations),
            ("GET", r"/_sandbox/oauth", self._admin_oauth),
            ("POST", r"/_sandbox/oauth/code", self._admin_code),
            ("POST", r"/_sandbox/oauth/expire", self._admin_expire),
            ("POST", r"/_sandbox/oauth/events", self._admin_event),
        )

    # Python API for tests

    def authorize(
        self, *, location_id: str = "", company_id: str = "", redirect_uri: str | None = None
    ) -> str:
        """Install the app on a location, or on an agency (every location of the company), and
        return the one-time authorization code. KeyError for an unknown location or company."""
        with self._lock:
            subject = self._subject_for(location_id, company_id)
            self._grants.install(subject)
            return self._grants.new_code(subject, redirect_uri)

    def is_installed(self, location_id: str) -> bool:
        with self._lock:
            loc = self.location(location_id)
            return self._grants.covers(Subject("Location", location_id, loc.company_id))

    def expire_access_tokens(self, subject_id: str) -> int:
        """End every live access token of a location or company now; returns how many."""
        with self._lock:
            return self._grants.expire(subject_id)

    def refresh_counts(self, subject_id: str) -> dict[str, int]:
        """Refreshes that reached GHL for a location (or company): {"ok": n, "refused": m}."""
        with self._lock:
            return self._grants.refresh_counts(subject_id)

    def send_app_event(
        self, event_type: str, *, location_id: str = "", company_id: str = ""
    ) -> dict[str, Any]:
        """Send INSTALL or UNINSTALL, location-level (with `locationId`) or agency-level, to the
        webhooks URL (send_webhooks_to). INSTALL installs; UNINSTALL uninstalls and revokes every
        token it covered. Returns the body sent."""
        if event_type not in ("INSTALL", "UNINSTALL"):
            raise ValueError("event type must be INSTALL or UNINSTALL")
        with self._lock:
            if self.webhooks is None:
                raise RuntimeError("no webhooks URL: call send_webhooks_to first")
            subject = self._subject_for(location_id, company_id)
            if event_type == "INSTALL":
                self._grants.install(subject)
            else:
                ids = [loc.location_id for loc in self.company_locations(subject.company_id)]
                self._grants.uninstall(subject, ids)
            body = app_event_body(
                event_type,
                app_id=self.webhooks.app_id or self.app_id,
                company_id=subject.company_id,
                location_id=subject.location_id,
                user_id=INSTALLER_USER_ID,
            )
            self.webhooks.send_body(body, subject.key)
            return body

    def _subject_for(self, location_id: str, company_id: str) -> Subject:
        if location_id:
            loc = self.location(location_id)
            return Subject("Location", loc.location_id, loc.company_id)
        if company_id and self.company_locations(company_id):
            return Subject("Company", "", company_id)
        raise KeyError(company_id or "a locationId or companyId is required")

    def _oauth_subject(self, token: str) -> Subject | None:
        return self._grants.subject(token)

    # API endpoints

    def _token(self, req: Request) -> Response:
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != FORM:
            raise _oauth_error(400, "invalid_request", f"Send the parameters as {FORM}.")
        form = req.json_object()
        client = (form.get("client_id"), form.get("client_secret"))
        if client != (self.client_id, self.client_secret):
            raise _oauth_error(401, "invalid_client", "Invalid client: client is invalid")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code, redirect = str(form.get("code") or ""), form.get("redirect_uri")
            if (subject := self._grants.redeem_code(code, redirect)) is None:
                raise _oauth_error(400, "invalid_grant", "Invalid grant: code is invalid")
            return 200, self._grants.issue(subject), {}
        if grant == "refresh_token":
            if (whom := self._grants.spend_refresh(str(form.get("refresh_token") or ""))) is None:
                raise _oauth_error(400, "invalid_grant", "Invalid grant: refresh token is invalid")
            return 200, self._grants.issue(whom), {}
        raise _oauth_error(400, "unsupported_grant_type", "grant_type is invalid")

    def _company(self, req: Request, company_id: Any) -> Subject:
        """The request's agency token, which must be `company_id`'s."""
        subject = self._subject_of(req)
        if subject is None or subject.user_type != "Company":
            raise HttpError(401, WRONG_AUTH_CLASS)
        if not company_id:
            raise HttpError(422, "companyId should not be empty")
        if company_id != subject.company_id:
            raise HttpError(403, NO_COMPANY_ACCESS)
        return subject

    def _location_token(self, req: Request) -> Response:
        """POST /oauth/locationToken (form: companyId, locationId) with an agency token."""
        form = req.json_object()
        company = self._company(req, form.get("companyId"))
        try:
            loc = self.location(str(form.get("locationId") or ""))
        except KeyError:
            raise HttpError(400, "Location not found") from None
        subject = Subject("Location", loc.location_id, loc.company_id)
        if loc.company_id != company.company_id:
            raise HttpError(400, "Location not found")
        if not self._grants.covers(subject):
            raise HttpError(400, "The app is not installed on this location")
        return 200, self._grants.issue(subject), {}

    def _installed_locations(self, req: Request) -> Response:
        """GET /oauth/installedLocations?companyId=&appId=[&isInstalled=][&skip=][&limit=]."""
        company_id = self._company(req, req.arg("companyId")).company_id
        if not req.arg("appId"):
            raise HttpError(422, "appId should not be empty")
        if req.arg("appId") != self.app_id:
            raise HttpError(400, "App not found")
        rows = [
            {"_id": loc.location_id, "name": loc.name, "address": ""}
            | {"isInstalled": self._grants.covers(Subject("Location", loc.location_id, company_id))}
            for loc in self.company_locations(company_id)
        ]
        if (wanted := req.arg("isInstalled")) in ("true", "false"):
            rows = [r for r in rows if r["isInstalled"] == (wanted == "true")]
        try:
            skip, limit = int(req.arg("skip") or 0), int(req.arg("limit") or 100)
        except ValueError as exc:
            raise HttpError(422, "skip and limit must be integers") from exc
        future = self._grants.covers(Subject("Company", "", company_id))
        body = {"locations": rows[skip : skip + limit], "count": len(rows)}
        return 200, {**body, "installToFutureLocations": future}, {}

    # Control endpoints

    def _admin_oauth(self, req: Request) -> Response:
        """The app's credentials (a sandbox's, for a stack to configure), installs and counts."""
        app = {"client_id": self.client_id, "client_secret": self.client_secret}
        return 200, {**app, "app_id": self.app_id, **self._grants.summary()}, {}

    def _admin_code(self, req: Request) -> Response:
        """The marketplace install: {"locationId"} or {"companyId"}, optional "redirect_uri"."""
        data = req.json_object()
        location_id, company_id = (
            str(data.get("locationId") or ""),
            str(data.get("companyId") or ""),
        )
        redirect = data.get("redirect_uri")
        try:
            code = self.authorize(
                location_id=location_id, company_id=company_id, redirect_uri=redirect
            )
        except KeyError as exc:
            raise HttpError(404, f"unknown location or company: {exc}") from exc
        return 201, {"code": code, "locationId": location_id, "companyId": company_id}, {}

    def _admin_expire(self, req: Request) -> Response:
        data = req.json_object()
        key = str(data.get("locationId") or data.get("companyId") or "")
        return 200, {"expired": self.expire_access_tokens(key)}, {}

    def _admin_event(self, req: Request) -> Response:
        """{"type": "INSTALL" | "UNINSTALL", "locationId"?, "companyId"?}: 202 with the body sent."""
        data = req.json_object()
        try:
            body = self.send_app_event(
                str(data.get("type")),
                location_id=str(data.get("locationId") or ""),
                company_id=str(data.get("companyId") or ""),
            )
        except KeyError as exc:
            raise HttpError(404, f"unknown location or company: {exc}") from exc
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        except RuntimeError as exc:
            raise HttpError(409, str(exc)) from exc
        return 202, {"sent": body}, {}
