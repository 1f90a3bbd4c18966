"""Invented contacts, GHL webhook bodies and a throwaway Ed25519 signer for the benchmarks.

Kept apart from tests/support/helpers.py on purpose: the bench must not break when the tests change.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bench.constants import LOCATION_ID, TAG


class Signer:
    """Stands in for GHL's Ed25519 webhook key; the product is told to trust its public half."""

    def __init__(self) -> None:
        self._key = ed25519.Ed25519PrivateKey.generate()

    @property
    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def headers(self, raw: bytes) -> dict[str, str]:
        signature = base64.b64encode(self._key.sign(raw)).decode()
        return {"Content-Type": "application/json", "X-GHL-Signature": signature}


def dialable_phones(first_exchange: int = 560) -> Iterator[str]:
    """Distinct numbers `phonenumbers` accepts as valid (the sync drops undialable ones).

    Exchanges from 560 up never collide with the GHL sandbox's generated contacts (555–559).
    """
    for exchange in range(first_exchange, 1000):
        for area in range(201, 990):
            for line in range(100):
                number = f"+1{area}{exchange}01{line:02d}"
                if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                    yield number


class ContactFactory:
    """GHL contacts with unique ids and phones, in the shape GET /contacts/{id} returns."""

    def __init__(self, prefix: str, first_exchange: int = 560) -> None:
        # GHL ids are 20 alphanumerics; the prefix keeps runs and scenarios apart.
        self._prefix = (prefix + uuid.uuid4().hex)[:8]
        self._phones = dialable_phones(first_exchange)
        self._seq = itertools.count()

    def new(self, company: str = "Example Landscaping") -> dict[str, Any]:
        n = next(self._seq)
        return {
            "id": f"{self._prefix}{n:012d}",
            "locationId": LOCATION_ID,
            "firstName": "Avery",
            "lastName": f"Lindqvist{n}",
            "email": f"avery.{self._prefix}.{n}@example.com",
            "phone": next(self._phones),
            "companyName": company,
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62701",
            "dnd": False,
            "tags": ["facebook lead", TAG],
        }


def stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def marketplace_event(kind: str, contact: dict[str, Any]) -> dict[str, Any]:
    """A marketplace contact event as GHL sends it: the contact's fields, no dndSettings (only
    ContactDndUpdate carries them), a timestamp and a fresh webhookId."""
    body = {k: v for k, v in contact.items() if k != "dndSettings"}
    return {"type": kind, **body, "timestamp": stamp(), "webhookId": str(uuid.uuid4())}


def signed(signer: Signer, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, signer.headers(raw)
