"""GHL's OAuth endpoints (gohighlevel.md §2, §13): `POST /oauth/token` (form-encoded, no Version
header) for a code or a refresh token, `POST /oauth/locationToken` and
`GET /oauth/installedLocations` with an agency's token.

One attempt each, never retried here: a code or a refresh token is spent by the request that
reaches GHL, so resending after a lost reply would be refused, and would hide why. A 4xx is
OAuthRefused (GHL's error code and description, never a token); no answer is TransientError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from chalicelib.domain.errors import TransientError
from chalicelib.domain.oauth import OAuthGrant, OAuthRefused, grant_from_reply
from chalicelib.domain.time import utcnow
from chalicelib.ports import InstalledLocation

PAGE = 100  # installedLocations' page size


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("error_description") or body.get("message")]
        text = ": ".join(str(p) for p in parts if p)
        if text:
            return text[:200]
    return f"HTTP {response.status_code}"


class GhlOAuthHttp:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: Callable[[], str],
        app_id: str,
        *,
        redirect_uri: str = "",
        version: str = "2021-07-28",
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._client_id = client_id
        self._client_secret = client_secret
        self._app_id = app_id
        self._redirect_uri = redirect_uri
        self._version = version

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransientError(f"GHL OAuth did not answer: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"GHL OAuth answered {response.status_code}")
        if response.is_error:
            raise OAuthRefused(_reason(response), response.status_code)
        try:
            return response.json()
        except ValueError:
            # No excerpt: a token reply's body is the one place tokens are.
            raise TransientError("GHL OAuth answered no JSON") from None

    def _token(self, form: dict[str, str]) -> OAuthGrant:
        form = {"client_id": self._client_id, "client_secret": self._client_secret(), **form}
        body = self._send("POST", "/oauth/token", data=form)
        return self._grant(body)

    def _grant(self, body: Any) -> OAuthGrant:
        try:
            return grant_from_reply(body, utcnow())
        except ValueError as exc:
            raise TransientError(f"GHL OAuth reply unusable: {exc}") from None

    def _bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Version": self._version}

    def exchange_code(self, code: str) -> OAuthGrant:
        form = {"grant_type": "authorization_code", "code": code}
        if self._redirect_uri:
            form["redirect_uri"] = self._redirect_uri
        return self._token(form)

    def refresh(self, refresh_token: str) -> OAuthGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def location_token(
        self, company_access_token: str, company_id: str, location_id: str
    ) -> OAuthGrant:
        body = self._send(
            "POST",
            "/oauth/locationToken",
            data={"companyId": company_id, "locationId": location_id},
            headers=self._bearer(company_access_token),
        )
        return self._grant(body)

    def installed_locations(
        self, company_access_token: str, company_id: str
    ) -> list[InstalledLocation]:
        found: list[InstalledLocation] = []
        for skip in range(0, 100 * PAGE, PAGE):  # at most 10,000 locations
            params = {"companyId": company_id, "appId": self._app_id, "isInstalled": "true"}
            params |= {"skip": str(skip), "limit": str(PAGE)}
            body = self._send(
                "GET",
                "/oauth/installedLocations",
                params=params,
                headers=self._bearer(company_access_token),
            )
            rows = body.get("locations") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise TransientError("GHL installedLocations reply has no locations list")
            for row in rows:
                installed = isinstance(row, dict) and row.get("isInstalled", True) is not False
                if installed and isinstance(row.get("_id"), str):
                    found.append(InstalledLocation(row["_id"], str(row.get("name") or "")))
            if len(rows) < PAGE:
                break
        return found

    def location_name(self, access_token: str, location_id: str) -> str | None:
        try:
            body = self._send(
                "GET", f"/locations/{location_id}", headers=self._bearer(access_token)
            )
        except (OAuthRefused, TransientError):
            return None
        location = body.get("location") if isinstance(body, dict) else None
        name = location.get("name") if isinstance(location, dict) else None
        return name.strip() or None if isinstance(name, str) else None
