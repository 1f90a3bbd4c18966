"""`GET /oauth/callback?code=...`: where GHL sends the installer's browser after a marketplace
install. The code is exchanged at `POST /oauth/token` and what it grants is registered
(install.py); the page says what, and never shows a token.

Off (503) until the app's client id and secret and GHL_APP_ID are set. A missing, malformed,
spent or refused code is a 400 page; GHL not answering is a 503 page (the installer retries the
install from GHL's side: a code is spent by the request that reaches GHL).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

from chalicelib.domain.errors import TransientError
from chalicelib.domain.oauth import GhlAuthFailed, OAuthRefused
from chalicelib.runtime.observability import count, logger
from chalicelib.services.oauth.install import InstallOutcome, OAuthInstaller
from chalicelib.services.replies import PageReply

# GHL's codes are hex or base64url-ish tokens; anything else never reaches GHL.
CODE = re.compile(r"[A-Za-z0-9._~+/=-]{8,2048}")
REFUSED_CODE = (
    "GHL refused the authorization code: it was used already, has expired, or was issued for "
    "another app. Install the app again from GHL."
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # The URL holds the code: no page it links to may see it.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


def page(status: int, title: str, *paragraphs: str, items: list[str] | None = None) -> PageReply:
    """A small page; every argument is plain text, escaped here."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if items:
        body += "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return PageReply(status, doc, dict(HEADERS))


def _described(outcome: InstallOutcome) -> list[str]:
    lines = []
    for r in outcome.registered:
        state = "active" if r.active else "inactive"
        if r.awaiting_calltools:
            state += ", awaiting CallTools: add its CallTools account and rules with PUT /locations"
        lines.append(
            f"{r.location_id} ({r.name}): {'registered' if r.created else 'updated'}, {state}"
        )
    lines += [
        f"{location_id}: not registered, {why}" for location_id, why in outcome.skipped.items()
    ]
    return lines


class OAuthCallback:
    def __init__(self, installer: Callable[[], OAuthInstaller] | None) -> None:
        self._installer = installer  # None: OAuth is not configured

    def handle(self, query: Mapping[str, str] | None) -> PageReply:
        if self._installer is None:
            return page(503, "Install unavailable", "This deployment's GHL app is not configured.")
        query = query or {}
        if query.get("error"):
            # GHL (or the installer) cancelled: shown as plain text, never trusted further.
            return page(400, "Install cancelled", f"GHL said: {str(query['error'])[:200]}")
        code = str(query.get("code") or "")
        if not CODE.fullmatch(code):
            count("OAuthCallbacksRejected")
            return page(400, "Install failed", "The link has no valid authorization code.")
        installer = self._installer()
        step = "exchange"
        try:
            grant = installer.exchange(code)
            step = "install"
            outcome = installer.install(grant)
        except OAuthRefused as refused:
            count("OAuthCallbacksRejected")
            logger.warning("OAuth install refused", extra={"step": step, "reason": refused.reason})
            if step == "exchange":
                return page(400, "Install failed", REFUSED_CODE)
            return page(400, "Install failed", f"GHL refused the agency's request: {refused}")
        except GhlAuthFailed as failed:
            return page(400, "Install failed", str(failed))
        except TransientError:
            logger.warning("OAuth callback: GHL did not answer")
            return page(503, "Install unavailable", "GHL did not answer: try again shortly.")
        count("OAuthCallbacksAccepted")
        kind = "agency" if grant.user_type == "Company" else "location"
        return page(
            200,
            "App installed",
            f"Installed for this {kind}. Registered locations:"
            if outcome.registered
            else f"Installed for this {kind}; no location was registered.",
            items=_described(outcome),
        )
