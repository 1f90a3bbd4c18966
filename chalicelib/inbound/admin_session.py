"""The status page's session cookie and CSRF token, both keyed on the admin token.

The key is derived from ADMIN_API_TOKEN, so rotating the token ends every session, and there is
no second secret to deploy. A cookie is `v1.<issued unix time>.<nonce>.<mac>`: the MAC covers the
first three parts; the CSRF token is a MAC of the nonce under another derived key, so it is bound
to one session and worthless without its cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

COOKIE_NAME = "admin_session"
SESSION_SECONDS = 3600
_CLOCK_SKEW_SECONDS = 60
_VERSION = "v1"


@dataclass(frozen=True)
class Session:
    nonce: str
    issued_at: int


def _derive(token: str, purpose: bytes) -> bytes:
    return hmac.new(token.encode("utf-8", "surrogatepass"), purpose, hashlib.sha256).digest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time text comparison that never raises (a lone surrogate is just unequal)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class SessionKeys:
    """Issues and checks sessions for one admin token (blank tokens are refused by the caller)."""

    def __init__(self, admin_token: str) -> None:
        self._cookie_key = _derive(admin_token, b"ghl-calltools admin session v1")
        self._csrf_key = _derive(admin_token, b"ghl-calltools admin csrf v1")

    def issue(self, now: datetime) -> str:
        body = f"{_VERSION}.{int(now.timestamp())}.{secrets.token_urlsafe(18)}"
        return f"{body}.{_mac(self._cookie_key, body)}"

    def verify(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie carries, or None: malformed, forged, expired or from the future."""
        # Ours are ASCII: anything else (a lone surrogate would make the MAC's encode raise) is not.
        if not cookie or len(cookie) > 200 or not cookie.isascii():
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
            return None
        body = ".".join(parts[:3])
        if not same(parts[3], _mac(self._cookie_key, body)):
            return None
        issued = int(parts[1])
        age = now.timestamp() - issued
        if age > SESSION_SECONDS or age < -_CLOCK_SKEW_SECONDS:
            return None
        return Session(nonce=parts[2], issued_at=issued)

    def csrf(self, session: Session) -> str:
        return _mac(self._csrf_key, session.nonce)

    def csrf_matches(self, session: Session, given: str | None) -> bool:
        return bool(given) and same(given or "", self.csrf(session))


def set_cookie(value: str, base: str = "") -> str:
    """The session cookie, sent back only to the page's own paths (`base` as in page_request)."""
    return (
        f"{COOKIE_NAME}={value}; Path={base}/admin; Max-Age={SESSION_SECONDS}; "
        "HttpOnly; Secure; SameSite=Strict"
    )


def clear_cookie(base: str = "") -> str:
    return f"{COOKIE_NAME}=; Path={base}/admin; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
