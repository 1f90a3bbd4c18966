"""GHL marketplace webhook signatures: Ed25519 (`X-GHL-Signature`) or legacy RSA (`X-WH-Signature`).

Both sign the raw body bytes exactly as sent (reference §7). Precedence: a present Ed25519 header is
verified and never falls back to RSA; the value "N/A" means absent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from chalicelib.inbound.webhook_auth import ED25519_HEADER, RSA_HEADER, header_value
from chalicelib.ports import AuthResult

# GHL's published webhook keys (reference §7, official). GHL_WEBHOOK_PUBLIC_KEYS replaces them.
GHL_ED25519_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""
GHL_RSA_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""

_PEM_BLOCK = re.compile(
    r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL | re.ASCII
)


def load_public_keys(
    pem_text: str,
) -> tuple[list[ed25519.Ed25519PublicKey], list[rsa.RSAPublicKey]]:
    """Every PEM public key block in `pem_text`, split by kind. Raises ValueError on a bad block."""
    ed_keys: list[ed25519.Ed25519PublicKey] = []
    rsa_keys: list[rsa.RSAPublicKey] = []
    blocks = _PEM_BLOCK.findall(pem_text.replace("\\n", "\n"))
    if not blocks:
        raise ValueError("no PEM public key block found")
    for block in blocks:
        key = serialization.load_pem_public_key(block.encode())
        if isinstance(key, ed25519.Ed25519PublicKey):
            ed_keys.append(key)
        elif isinstance(key, rsa.RSAPublicKey):
            rsa_keys.append(key)
        else:
            raise ValueError(f"unsupported webhook key type {type(key).__name__}")
    return ed_keys, rsa_keys


def _decode(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None


class GhlSignatureVerifier:
    def __init__(
        self,
        ed25519_keys: list[ed25519.Ed25519PublicKey],
        rsa_keys: list[rsa.RSAPublicKey],
    ) -> None:
        self._ed25519 = ed25519_keys
        self._rsa = rsa_keys

    @classmethod
    def from_pem(cls, pem_text: str) -> GhlSignatureVerifier:
        """Keys from GHL_WEBHOOK_PUBLIC_KEYS, or GHL's published keys when it is empty."""
        ed_keys, rsa_keys = load_public_keys(pem_text or GHL_ED25519_KEY + GHL_RSA_KEY)
        return cls(ed_keys, rsa_keys)

    def key_counts(self) -> str:
        return f"{len(self._ed25519)} Ed25519 + {len(self._rsa)} RSA key(s)"

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> AuthResult:
        ed_sig = header_value(headers, ED25519_HEADER)
        if ed_sig is not None:
            return self._verify_ed25519(raw_body, ed_sig)
        rsa_sig = header_value(headers, RSA_HEADER)
        if rsa_sig is not None:
            return self._verify_rsa(raw_body, rsa_sig)
        return AuthResult(False, "none", "no signature header")

    def _verify_ed25519(self, raw_body: bytes, signature: str) -> AuthResult:
        sig = _decode(signature)
        if sig is None or len(sig) != 64:
            return AuthResult(False, "ed25519", "malformed X-GHL-Signature")
        for key in self._ed25519:
            try:
                key.verify(sig, raw_body)
                return AuthResult(True, "ed25519")
            except InvalidSignature:
                continue
        return AuthResult(False, "ed25519", "X-GHL-Signature does not match")

    def _verify_rsa(self, raw_body: bytes, signature: str) -> AuthResult:
        sig = _decode(signature)
        if sig is None:
            return AuthResult(False, "rsa", "malformed X-WH-Signature")
        for key in self._rsa:
            try:
                key.verify(sig, raw_body, padding.PKCS1v15(), hashes.SHA256())
                return AuthResult(True, "rsa")
            except InvalidSignature:
                continue
        return AuthResult(False, "rsa", "X-WH-Signature does not match")
