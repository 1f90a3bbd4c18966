"""Webhook authentication rules that need no keys or crypto library: header reading and the
workflow shared secret. Marketplace signatures are checked by a WebhookVerifier adapter."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from chalicelib.ports import AuthResult

# A secret given as a value, or as a function reading its current value (rotation).
Secret = str | Callable[[], str]


def reveal(secret: Secret) -> str:
    return secret() if callable(secret) else secret


ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, case-insensitively; "N/A" and blanks count as absent."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None or not value.strip() or value.strip().upper() == "N/A":
        return None
    return value.strip()


def shared_secret_matches(expected: str, headers: Mapping[str, str]) -> AuthResult:
    """Workflow webhooks: `X-Webhook-Secret: <s>` or `Authorization: Bearer <s>`, constant-time."""
    if not expected:
        return AuthResult(
            False, "workflow-secret", "workflow webhooks are off (no secret configured)"
        )
    candidates = [header_value(headers, "x-webhook-secret")]
    auth = header_value(headers, "authorization")
    if auth and auth[:7].lower() == "bearer ":
        candidates.append(auth[7:].strip())
    for given in candidates:
        if given is not None and hmac.compare_digest(given.encode(), expected.encode()):
            return AuthResult(True, "workflow-secret")
    reason = "wrong secret" if any(candidates) else "no signature or secret"
    return AuthResult(False, "workflow-secret", reason)
