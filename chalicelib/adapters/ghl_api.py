"""GoHighLevel API v2 client: the contact read the consumer needs (reference §3)."""

from __future__ import annotations

from typing import Any

import httpx

from chalicelib.adapters.http_retry import RetryPolicy, body_excerpt, json_body
from chalicelib.contact import Contact, contact_from_ghl
from chalicelib.errors import ConfigurationError, PermanentError


class GhlHttpApi:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        version: str = "2021-07-28",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Version": version,
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
        )
        self._retry = retry or RetryPolicy()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._retry.send("ghl", lambda: self._http.request(method, path, **kwargs))
        if response.status_code in (401, 403):
            raise ConfigurationError(f"GHL rejected the API token ({response.status_code})")
        return response

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
