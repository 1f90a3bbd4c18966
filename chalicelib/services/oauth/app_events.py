"""INSTALL and UNINSTALL marketplace webhooks (gohighlevel.md §13), after the intake verified
their signature.

GHL signs every app's webhooks with one key, so an event counts only with our app's `appId`.
UNINSTALL deactivates: the location (location-level), or every OAuth location of the agency
(agency-level). INSTALL registers when the agency's grant is stored (an agency install went
through the callback before): the location's token comes from it. Otherwise the location's own
grant comes with the OAuth callback, and the event changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.domain.errors import TransientError
from chalicelib.domain.location import is_location_id
from chalicelib.domain.oauth import GhlAuthFailed, OAuthRefused
from chalicelib.runtime.observability import count, logger
from chalicelib.services.oauth.install import OAuthInstaller
from chalicelib.services.replies import HttpReply, reply

APP_EVENTS = frozenset({"INSTALL", "UNINSTALL"})


def is_app_event(body: Any) -> bool:
    return isinstance(body, Mapping) and str(body.get("type")) in APP_EVENTS


def _id(event: Mapping[str, Any], key: str) -> str | None:
    """The id under `key`: "" when absent, None when present but not an id."""
    value = event.get(key)
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) and is_location_id(value) else None


class AppEvents:
    def __init__(self, installer: Callable[[], OAuthInstaller] | None, app_id: str) -> None:
        self._installer = installer  # None: OAuth is not configured
        self._app_id = app_id

    def handle_install_event(self, event: Mapping[str, Any]) -> HttpReply:
        """An INSTALL or UNINSTALL body, its signature verified: 200 with what changed (or why
        nothing), 400 for ids that are not ids, 503 when GHL did not answer (GHL retries)."""
        kind = str(event.get("type"))  # any JSON value: a list is no set member
        if kind not in APP_EVENTS:
            return reply(400, "invalid", reason="not an INSTALL or UNINSTALL event")
        if self._installer is None or not self._app_id:
            return reply(200, "ignored", reason="OAuth is not configured")
        if event.get("appId") != self._app_id:
            count("AppEventsIgnored")
            return reply(200, "ignored", reason="other app")
        company_id, location_id = _id(event, "companyId"), _id(event, "locationId")
        if company_id is None or location_id is None:
            return reply(400, "invalid", reason="companyId and locationId must be GHL ids")
        if not company_id and not location_id:
            return reply(200, "ignored", reason="neither companyId nor locationId")
        installer = self._installer()
        try:
            if kind == "UNINSTALL":
                stopped = installer.uninstall(company_id, location_id)
                return reply(200, "deactivated", locations=stopped)
            return self._install(installer, company_id, location_id)
        except TransientError:
            logger.warning("app event: GHL did not answer", extra={"event_type": kind})
            return reply(503, "unavailable", reason="GHL did not answer, retry later")

    def _install(self, installer: OAuthInstaller, company_id: str, location_id: str) -> HttpReply:
        if not company_id:
            return reply(200, "ignored", reason="no companyId: awaiting the OAuth callback")
        try:
            outcome = installer.sweep_company(company_id, only=location_id or None)
        except GhlAuthFailed:
            # No agency grant: a location install's grant comes with its OAuth callback.
            return reply(200, "ignored", reason="no agency grant: awaiting the OAuth callback")
        except OAuthRefused as refused:
            logger.warning("app event: GHL refused", extra={"reason": refused.reason})
            return reply(200, "refused", reason="GHL refused the agency's token")
        return reply(
            200,
            "installed",
            locations=[r.location_id for r in outcome.registered],
            skipped=outcome.skipped,
        )
