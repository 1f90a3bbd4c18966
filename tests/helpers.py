"""Shared test helpers: fixtures from tests/fixtures, signing with throwaway keys, event building."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

FIXTURES = Path(__file__).parent / "fixtures"
LOCATION_ID = "Lc9Xw2TqB7mR4dNs8KfA"
CONTACT_ID = "p4Rk2VtQ8mZs1LwY7nHc"
T0 = datetime(2026, 1, 12, 16, 25, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def ghl_event(
    kind: str = "ContactTagUpdate",
    *,
    at: datetime | None = None,
    webhook_id: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A marketplace event from the fixtures, with a fresh webhookId and the given time/fields."""
    body = copy.deepcopy(fixture(f"ghl/{kind}.json"))
    body["webhookId"] = webhook_id or str(uuid.uuid4())
    if at is not None:
        body["timestamp"] = at.isoformat().replace("+00:00", "Z")
    body.update(changes)
    return body


def tagged(*tags: str, at: datetime | None = None, **changes: Any) -> dict[str, Any]:
    return ghl_event("ContactTagUpdate", at=at or T0, tags=list(tags), **changes)


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Signer:
    """A throwaway Ed25519 + RSA key pair standing in for GHL's."""

    def __init__(self) -> None:
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_pem(self) -> str:
        fmt = serialization.PublicFormat.SubjectPublicKeyInfo
        enc = serialization.Encoding.PEM
        return (
            self.ed.public_key().public_bytes(enc, fmt).decode()
            + self.rsa.public_key().public_bytes(enc, fmt).decode()
        )

    def ed25519(self, body: bytes) -> str:
        return base64.b64encode(self.ed.sign(body)).decode()

    def rsa_sig(self, body: bytes) -> str:
        return base64.b64encode(self.rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-GHL-Signature": self.ed25519(body)}


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()
