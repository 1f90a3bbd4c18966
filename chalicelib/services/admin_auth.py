"""The admin routes' bearer check, shared by every admin service: `Authorization: Bearer <token>`,
compared in constant time. With no ADMIN_API_TOKEN configured the routes answer 503: never open."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from chalicelib.inbound.webhook_auth import Secret, header_value, reveal
from chalicelib.services.replies import HttpReply, reply


class AdminBearer:
    def __init__(self, token: Secret) -> None:
        self._token = token

    def refusal(self, headers: Mapping[str, str]) -> HttpReply | None:
        """The reply refusing this request, or None when it carries the admin token."""
        token = reveal(self._token)
        if not token:
            return reply(503, "unavailable", reason="admin routes are off: ADMIN_API_TOKEN not set")
        auth = header_value(headers, "authorization") or ""
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return reply(401, "unauthorized", reason="admin bearer token required")
        return None
