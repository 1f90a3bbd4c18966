"""Webhook signature checks over the raw body."""

from __future__ import annotations

import pytest

from chalicelib.adapters.ghl_signature import GhlSignatureVerifier, load_public_keys
from chalicelib.webhook_auth import shared_secret_matches
from tests.helpers import Signer, dumps, fixture

BODY = dumps(fixture("ghl/ContactTagUpdate.json"))


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def verifier(signer: Signer) -> GhlSignatureVerifier:
    return GhlSignatureVerifier.from_pem(signer.public_pem)


def test_default_keys_are_ghls_published_pair():
    v = GhlSignatureVerifier.from_pem("")
    assert not v.verify(BODY, {"X-GHL-Signature": Signer().ed25519(BODY)}).ok


def test_env_style_escaped_newlines_are_accepted(signer: Signer):
    ed, rsa_keys = load_public_keys(signer.public_pem.replace("\n", "\\n"))
    assert len(ed) == 1 and len(rsa_keys) == 1


def test_ed25519_valid(verifier: GhlSignatureVerifier, signer: Signer):
    result = verifier.verify(BODY, {"x-ghl-signature": signer.ed25519(BODY)})
    assert result.ok and result.scheme == "ed25519"


def test_rsa_legacy_valid_when_ed25519_absent_or_na(verifier: GhlSignatureVerifier, signer: Signer):
    sig = signer.rsa_sig(BODY)
    assert verifier.verify(BODY, {"X-WH-Signature": sig}).ok
    assert verifier.verify(BODY, {"X-GHL-Signature": "N/A", "X-WH-Signature": sig}).ok


def test_bad_ed25519_does_not_fall_back_to_rsa(verifier: GhlSignatureVerifier, signer: Signer):
    headers = {"X-GHL-Signature": signer.ed25519(b"other"), "X-WH-Signature": signer.rsa_sig(BODY)}
    assert not verifier.verify(BODY, headers).ok


def test_tampered_body_fails(verifier: GhlSignatureVerifier, signer: Signer):
    sig = signer.ed25519(BODY)
    assert not verifier.verify(
        BODY.replace(b"cold lead", b"cold leaf"), {"X-GHL-Signature": sig}
    ).ok


def test_reserialised_json_fails(verifier: GhlSignatureVerifier, signer: Signer):
    """Signatures cover the bytes as sent; the same JSON re-serialised must not verify."""
    sig = signer.ed25519(BODY)
    assert not verifier.verify(
        dumps(fixture("ghl/ContactTagUpdate.json")) + b" ", {"X-GHL-Signature": sig}
    ).ok


@pytest.mark.parametrize("sig", ["", "N/A", "not base64!!", "AAAA", "=" * 88])
def test_malformed_or_absent_signatures_fail(verifier: GhlSignatureVerifier, sig: str):
    assert not verifier.verify(BODY, {"X-GHL-Signature": sig}).ok


def test_non_public_key_pem_is_rejected():
    with pytest.raises(ValueError):
        load_public_keys("no keys here")


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"X-Webhook-Secret": "s3cret"}, True),
        ({"Authorization": "Bearer s3cret"}, True),
        ({"authorization": "bearer s3cret"}, True),
        ({"X-Webhook-Secret": "wrong"}, False),
        ({"Authorization": "Basic s3cret"}, False),
        ({}, False),
    ],
)
def test_workflow_secret(headers: dict[str, str], ok: bool):
    assert shared_secret_matches("s3cret", headers).ok is ok


def test_workflow_refused_when_no_secret_configured():
    assert not shared_secret_matches("", {"X-Webhook-Secret": ""}).ok
    assert not shared_secret_matches("", {"Authorization": "Bearer anything"}).ok
