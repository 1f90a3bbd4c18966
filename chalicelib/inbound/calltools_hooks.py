"""CallTools rest hooks (calltools.md §8): who may send one, and what we take from its body.

CallTools signs nothing and a hook cannot carry our headers, so the only secret is the `token`
in the subscribed URL (an `X-Webhook-Secret` header is accepted too, for proxies that move it).
The body is a hint: only the record's id is taken, and the consumer reads the record back.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.inbound.webhook_auth import header_value
from chalicelib.ports import AuthResult

SCHEME = "calltools-token"
# Far above any real id, below what JSON numbers lose precision at.
MAX_RECORD_ID = 2**53


class InvalidHook(ValueError):
    """The body names no call record."""


def hook_secret_matches(
    expected: str, query: Mapping[str, str] | None, headers: Mapping[str, str]
) -> AuthResult:
    # A blank secret is none: a token of spaces would be no secret at all.
    if not expected.strip():
        return AuthResult(False, SCHEME, "CallTools hooks are off (CALLTOOLS_WEBHOOK_SECRET unset)")
    candidates = [(query or {}).get("token"), header_value(headers, "x-webhook-secret")]
    for given in candidates:
        if given and hmac.compare_digest(_bytes(given), _bytes(expected)):
            return AuthResult(True, SCHEME)
    reason = "wrong token" if any(candidates) else "no token"
    return AuthResult(False, SCHEME, reason)


def _bytes(text: str) -> bytes:
    # A query or header may hold a lone surrogate (an undecodable escape): it compares as
    # unequal, never raises (which the route would answer with a 503).
    return text.encode("utf-8", "surrogatepass")


def record_id_of(body: Any) -> int:
    """The historical call disposition's id: a positive whole number, nothing else is read."""
    if not isinstance(body, dict):
        raise InvalidHook("body is not a JSON object")
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidHook("id must be a whole number")
    if not 0 < value < MAX_RECORD_ID:
        raise InvalidHook("id out of range")
    return value
