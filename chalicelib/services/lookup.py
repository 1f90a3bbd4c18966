"""`GET /sync/contacts?q=`: find a contact by its GHL id, or by phone or email through GHL's
search, and explain each match (services/explain.py).

GHL's search is asked only for candidates (adapters/ghl/api.py `find_contacts`): a match is kept
when its phone in E.164 or its lower-cased email equals the query's and it belongs to our
location. The raw phone or email is never logged nor echoed back: the reply names it masked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.domain.contact import Contact
from chalicelib.domain.phone import mask_phone, to_e164
from chalicelib.ports import GhlContactFinder, LookupField
from chalicelib.runtime.observability import logger, mask_email, redact
from chalicelib.services.explain import CONTACT_ID, ContactExplainer

QueryKind = Literal["id", "phone", "email"]

MAX_QUERY = 254  # the longest email address; anything longer is no query of ours
MAX_MATCHES = 5
# GHL may answer near-misses (free text); ask for a few more than are kept.
CANDIDATES = 20
MAX_NAME = 120
# Loose on purpose: one @, no blanks, a dot in the domain. GHL decides what exists.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Only digits and what people type between them: such a query is a phone or nothing.
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]*\d[\d\s().\-]*")


class InvalidQuery(ValueError):
    """The query is neither a GHL contact id, a phone number nor an email address (400)."""


class LookupUnavailable(Exception):
    """GHL's search could not be asked or did not answer: retry later (503)."""


@dataclass(frozen=True)
class Query:
    kind: QueryKind
    value: str  # the id as given, the phone in E.164, the email lower-cased

    @property
    def masked(self) -> str:
        """What the reply and the logs may show: an id whole, a phone or email masked."""
        if self.kind == "phone":
            return mask_phone(self.value)
        if self.kind == "email":
            return mask_email(self.value)
        return self.value


def classify(q: str | None, default_region: str = "US") -> Query:
    """An email (it has an @), a phone (digits and separators forming a valid number, national
    numbers in `default_region`), else a GHL contact id. Raises InvalidQuery otherwise.

    A query of digits alone is a phone or invalid, never an id: GHL ids carry letters, and a
    mistyped number should say so rather than "never seen"."""
    text = (q or "").strip()
    if not text:
        raise InvalidQuery("q is required: a GHL contact id, a phone number or an email")
    if len(text) > MAX_QUERY:
        raise InvalidQuery(f"q is longer than {MAX_QUERY} characters")
    if "@" in text:
        if not _EMAIL.fullmatch(text):
            raise InvalidQuery("q has an @ but is not an email address")
        return Query("email", text.lower())
    if _PHONE_LIKE.fullmatch(text):
        e164 = to_e164(text, default_region)
        if e164 is None:
            raise InvalidQuery("q looks like a phone number but is not a valid one")
        return Query("phone", e164)
    if CONTACT_ID.fullmatch(text):
        return Query("id", text)
    raise InvalidQuery("q must be a GHL contact id ([A-Za-z0-9_-]{1,64}), a phone or an email")


def display_name(contact: Contact) -> str | None:
    """First and last name as GHL holds them: untrusted text, so without control characters,
    cut short, and masked like any free text (a name field may hold a phone number)."""
    raw = f"{contact.first_name} {contact.last_name}".strip()
    clean = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw)
    name = redact(" ".join(clean.split()))[:MAX_NAME]
    return name or None


class ContactLookup:
    def __init__(
        self,
        explainer: Callable[[], ContactExplainer],
        finder: Callable[[], GhlContactFinder],
        location_id: str,
        default_region: str = "US",
    ) -> None:
        self._explainer = explainer
        self._finder = finder
        self._location_id = location_id
        self._region = default_region

    def find(self, q: str | None) -> dict[str, Any]:
        """{"query": {"kind", "masked"}, "matches": [explanation + {"name"}, ...]}; at most
        MAX_MATCHES matches, none when nothing matched. An id is explained from our state alone
        (one match, its name None). Raises InvalidQuery, or LookupUnavailable when GHL cannot
        be asked."""
        query = classify(q, self._region)
        shown = {"kind": query.kind, "masked": query.masked}
        if query.kind == "id":
            return {
                "query": shown,
                "matches": [self._explainer().explain(query.value) | {"name": None}],
            }
        field: LookupField = query.kind
        contacts = self._candidates(field, query)
        explainer = self._explainer()
        return {
            "query": shown,
            "matches": [explainer.explain(c.id) | {"name": display_name(c)} for c in contacts],
        }

    def _candidates(self, field: LookupField, query: Query) -> list[Contact]:
        if not self._location_id:
            raise LookupUnavailable("GHL_LOCATION_ID is not set: no location to search")
        try:
            found = self._finder().find_contacts(self._location_id, field, query.value, CANDIDATES)
        except Exception as exc:
            # The error's text may quote the query: log it masked, and say only "retry later".
            logger.warning(
                "contact lookup: GHL search failed",
                extra={"kind": field, "query": query.masked, "error": redact(str(exc))},
            )
            raise LookupUnavailable("GHL did not answer the search; retry later") from exc
        kept: dict[str, Contact] = {}
        for contact in found:
            if contact.id not in kept and self._matches(contact, field, query.value):
                kept[contact.id] = contact
        dropped = len(found) - len(kept)
        if dropped:
            logger.info(
                "contact lookup: GHL candidates dropped",
                extra={"kind": field, "query": query.masked, "dropped": dropped},
            )
        return list(kept.values())[:MAX_MATCHES]

    def _matches(self, contact: Contact, field: LookupField, value: str) -> bool:
        if contact.location_id != self._location_id or not CONTACT_ID.fullmatch(contact.id):
            return False
        if field == "phone":
            return to_e164(contact.phone, self._region) == value
        return contact.email.strip().lower() == value
