"""Shared test helpers: fixtures from tests/fixtures, signing with throwaway keys, event building."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from chalicelib.adapters.calltools.account import AccountConventions
from chalicelib.adapters.calltools.api import CallToolsHttpApi
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import RetryPolicy

FIXTURES = Path(__file__).parent.parent / "fixtures"
LOCATION_ID = "Lc9Xw2TqB7mR4dNs8KfA"
CONTACT_ID = "p4Rk2VtQ8mZs1LwY7nHc"


# Fake credentials for moto, and settings a developer's shell must not leak into a test.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
LEAKY_ENV = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SYNC_RULES", "GHL_APP_ID", "SYNC_QUEUE_ARN")


def use_moto_env(monkeypatch: Any, **settings: str) -> None:
    """Point boto3 at moto's fake credentials, with these settings and none of LEAKY_ENV."""
    for name, value in {**MOTO_ENV, **settings}.items():
        monkeypatch.setenv(name, value)
    for name in LEAKY_ENV:
        if name not in settings:
            monkeypatch.delenv(name, raising=False)


def scripted_calltools(handler: Any, method: str = "auto") -> CallToolsHttpApi:
    """The real CallTools client answering from `handler` (httpx.MockTransport), unpaced and
    without back-off sleeps."""
    return CallToolsHttpApi(
        "https://x.calltools.io/api/",
        "token",
        account=AccountConventions(bucket_method=method),
        options=ClientOptions(
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(sleep=lambda _: None),
            max_rps=0,
        ),
    )


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
    body["timestamp"] = stamp(at or datetime.now(UTC))
    body.update(changes)
    return body


def tagged(*tags: str, at: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """A ContactTagUpdate with these tags, happening now (or `at`)."""
    return ghl_event("ContactTagUpdate", at=at, tags=list(tags), **changes)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def ago(seconds: float) -> datetime:
    """Events happen before they are delivered: reordering tests use times in the recent past."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


def public_pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_bytes(serialization.Encoding.PEM, fmt).decode()


class Signer:
    """A throwaway Ed25519 + RSA key pair standing in for GHL's."""

    def __init__(self) -> None:
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_pem(self) -> str:
        return self.ed25519_pem + self.rsa_pem

    @property
    def ed25519_pem(self) -> str:
        return public_pem(self.ed.public_key())

    @property
    def rsa_pem(self) -> str:
        return public_pem(self.rsa.public_key())

    def ed25519(self, body: bytes) -> str:
        return base64.b64encode(self.ed.sign(body)).decode()

    def rsa_sig(self, body: bytes) -> str:
        return base64.b64encode(self.rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-GHL-Signature": self.ed25519(body)}


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


EVENT_KEYS = ("type", "timestamp", "webhookId", "versionId", "appId")


class GhlMirror:
    """Keeps a GHL stand-in's current contact in step with the newest event posted for it, as
    GHL itself would be; the consumer re-reads it when a webhook cannot settle DND for calls."""

    def __init__(self, upsert: Any, delete: Any) -> None:
        self._upsert, self._delete = upsert, delete
        self._latest: dict[str, str] = {}

    def __call__(self, body: Any) -> None:
        if not isinstance(body, dict) or "id" not in body or "type" not in body:
            return
        stamp = str(body.get("timestamp", ""))
        if stamp and stamp < self._latest.get(body["id"], ""):
            return  # an older event: GHL has moved on
        self._latest[body["id"]] = stamp
        if body["type"] == "ContactDelete":
            self._delete(body["id"])
        else:
            contact = {k: v for k, v in body.items() if k not in EVENT_KEYS}
            if stamp:
                contact["dateUpdated"] = stamp
            self._upsert(contact)


def sqs_record(body: str) -> dict[str, Any]:
    """One record of a Lambda SQS event carrying `body`, with a fresh message id."""
    mid = str(uuid.uuid4())
    return {
        "messageId": mid,
        "receiptHandle": f"rh-{mid}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
        "md5OfBody": "",
    }
