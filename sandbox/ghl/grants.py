"""What a sandbox GHL marketplace app has been granted (gohighlevel.md §2, §13): where it is
installed, its one-time authorization codes, access tokens (86399 s) and refresh tokens.

Refresh tokens rotate: a refresh spends the token and issues a new pair, so the old one fails from
then on; a spent or revoked one is remembered only to count its reuse. Counts are kept per
location (or company), so a test can see how many refreshes reached GHL. No lock of its own:
its callers (oauth.py) hold the server's.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

EXPIRES_IN = 86_399  # seconds (§2)
SCOPES = "contacts.readonly contacts.write locations.readonly oauth.readonly oauth.write"
INSTALLER_USER_ID = "Us7Kd2Qm9XwT4bLn6RyE"  # the (invented) user who installs the app
BEARER = "Bearer"


class Subject(NamedTuple):
    """Whom a token speaks for: a location (userType "Location") or an agency ("Company")."""

    user_type: str
    location_id: str  # "" for a company
    company_id: str

    @property
    def key(self) -> str:
        return self.location_id or self.company_id


@dataclass
class _Access:
    subject: Subject
    expires_at: float  # time.time()


class Grants:
    def __init__(self) -> None:
        self._codes: dict[str, tuple[Subject, str | None]] = {}  # code -> (whom, redirect_uri)
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, Subject] = {}  # live refresh tokens
        self._retired: dict[str, Subject] = {}  # spent or revoked ones
        self._installed: set[str] = set()  # location ids (location-level installs)
        self._agency_installs: set[str] = set()  # company ids: every location of it
        self._refreshes: Counter[str] = Counter()  # granted, by location or company id
        self._refused: Counter[str] = Counter()  # a spent or revoked refresh token, reused

    # Installs

    def install(self, subject: Subject) -> None:
        if subject.location_id:
            self._installed.add(subject.location_id)
        else:
            self._agency_installs.add(subject.company_id)

    def uninstall(self, subject: Subject, company_locations: Iterable[str] = ()) -> None:
        """Remove the install (an agency's: from its locations too) and revoke every token it
        covered."""
        if subject.location_id:
            self._installed.discard(subject.location_id)
        else:
            self._agency_installs.discard(subject.company_id)
            self._installed.difference_update(company_locations)
        for token, access in list(self._access.items()):
            if not self.covers(access.subject):
                del self._access[token]
        for token, whom in list(self._refresh.items()):
            if not self.covers(whom):
                self._retired[token] = self._refresh.pop(token)

    def covers(self, subject: Subject) -> bool:
        """Is the app installed where this subject is?"""
        if subject.company_id in self._agency_installs:
            return True
        return bool(subject.location_id) and subject.location_id in self._installed

    # Codes and tokens

    def new_code(self, subject: Subject, redirect_uri: str | None) -> str:
        code = secrets.token_hex(20)
        self._codes[code] = (subject, redirect_uri)
        return code

    def redeem_code(self, code: str, redirect_uri: str | None) -> Subject | None:
        """The code's subject, once; None if unknown, used, or minted for another redirect_uri."""
        entry = self._codes.pop(code, None)
        if entry is None or (entry[1] is not None and redirect_uri not in (None, entry[1])):
            return None
        return entry[0]

    def issue(self, subject: Subject) -> dict[str, Any]:
        """A new access and refresh token, as POST /oauth/token answers them."""
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = _Access(subject, time.time() + EXPIRES_IN)
        self._refresh[refresh] = subject
        reply: dict[str, Any] = {"access_token": access, "token_type": BEARER}
        reply.update(expires_in=EXPIRES_IN, refresh_token=refresh, scope=SCOPES)
        reply.update(userType=subject.user_type, companyId=subject.company_id)
        if subject.location_id:
            reply["locationId"] = subject.location_id
        reply["userId"] = INSTALLER_USER_ID
        return reply

    def spend_refresh(self, token: str) -> Subject | None:
        """Spend a live refresh token (the caller issues the new pair); None if it is not live."""
        whom = self._refresh.pop(token, None)
        if whom is None:
            if (old := self._retired.get(token)) is not None:
                self._refused[old.key] += 1
            return None
        self._retired[token] = whom
        self._refreshes[whom.key] += 1
        return whom

    def subject(self, access_token: str) -> Subject | None:
        """Whom a live access token speaks for; None if unknown, revoked or expired."""
        access = self._access.get(access_token)
        return access.subject if access is not None and access.expires_at > time.time() else None

    def expire(self, key: str) -> int:
        """End the live access tokens of a location or company now; returns how many."""
        now = time.time()
        live = [a for a in self._access.values() if a.subject.key == key and a.expires_at > now]
        for access in live:
            access.expires_at = now
        return len(live)

    def refresh_counts(self, key: str) -> dict[str, int]:
        return {"ok": self._refreshes[key], "refused": self._refused[key]}

    def summary(self) -> dict[str, Any]:
        """Installs and counts (no token values), for GET /_sandbox/oauth."""
        now = time.time()
        live = Counter(a.subject.key for a in self._access.values() if a.expires_at > now)
        keys = sorted({*self._refreshes, *self._refused})
        return {
            "installed": sorted(self._installed),
            "agency_installs": sorted(self._agency_installs),
            "live_access_tokens": dict(live),
            "refreshes": {k: self.refresh_counts(k) for k in keys},
        }
