"""Webhook signature checks over the raw body."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from chalicelib.adapters.ghl.signature import GhlSignatureVerifier, load_public_keys
from chalicelib.inbound.webhook_auth import header_value, shared_secret_matches
from chalicelib.ports import AuthResult
from chalicelib.services.intake import WebhookIntake
from tests.support.fakes import FakeQueue
from tests.support.helpers import LOCATION_ID, Signer, dumps, fixture, public_pem

BODY = dumps(fixture("ghl/ContactTagUpdate.json"))


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def verifier(signer: Signer) -> GhlSignatureVerifier:
    return GhlSignatureVerifier.from_pem(signer.public_pem)


# GHL's published webhook keys, copied from the reference (gohighlevel.md §7) on purpose: the
# product's copy is what is under test.
PUBLISHED_ED25519 = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""
PUBLISHED_RSA = """-----BEGIN PUBLIC KEY-----
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


def _pem(keys: Sequence[ed25519.Ed25519PublicKey | rsa.RSAPublicKey]) -> list[str]:
    return [public_pem(k) for k in keys]


def test_default_keys_are_ghls_published_pair():
    v = GhlSignatureVerifier.from_pem("")
    assert v.key_counts() == "1 Ed25519 + 1 RSA key(s)"
    assert _pem(v._ed25519) == [PUBLISHED_ED25519]
    assert _pem(v._rsa) == [PUBLISHED_RSA]
    assert not v.verify(BODY, {"X-GHL-Signature": Signer().ed25519(BODY)}).ok


def test_configured_keys_replace_the_published_ones(signer: Signer):
    v = GhlSignatureVerifier.from_pem(signer.public_pem)
    assert _pem(v._ed25519) == [signer.ed25519_pem] and _pem(v._rsa) == [signer.rsa_pem]


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


# --- legacy RSA (X-WH-Signature): only a valid signature by a configured key passes ------------

TAMPERED = BODY.replace(b"cold lead", b"cold leaf")
GARBAGE_SIGNATURES = ["not base64!!", "AAAA", "=" * 88, "%%%%", "QUJD" * 128]
GARBAGE_IDS = ["not-base64", "three-bytes", "padding-only", "percent", "512-bytes-of-abc"]


def test_rsa_signature_over_a_tampered_body_is_refused(
    verifier: GhlSignatureVerifier, signer: Signer
):
    result = verifier.verify(TAMPERED, {"X-WH-Signature": signer.rsa_sig(BODY)})
    assert not result.ok and result.scheme == "rsa"


def test_rsa_signature_made_by_another_key_is_refused(verifier: GhlSignatureVerifier):
    result = verifier.verify(BODY, {"X-WH-Signature": Signer().rsa_sig(BODY)})
    assert not result.ok and result.scheme == "rsa"


@pytest.mark.parametrize("sig", GARBAGE_SIGNATURES, ids=GARBAGE_IDS)
def test_rsa_signature_that_is_garbage_is_refused(verifier: GhlSignatureVerifier, sig: str):
    result = verifier.verify(BODY, {"X-WH-Signature": sig})
    assert not result.ok and result.scheme == "rsa"


def test_ed25519_signature_is_refused_when_only_rsa_keys_are_configured(signer: Signer):
    """Keys given only as RSA PEM: no Ed25519 signature can verify, however well formed."""
    rsa_only = GhlSignatureVerifier.from_pem(signer.rsa_pem)
    assert rsa_only.key_counts() == "0 Ed25519 + 1 RSA key(s)"
    result = rsa_only.verify(BODY, {"X-GHL-Signature": signer.ed25519(BODY)})
    assert not result.ok and result.scheme == "ed25519"
    assert rsa_only.verify(BODY, {"X-WH-Signature": signer.rsa_sig(BODY)}).ok  # the control


def test_rsa_signature_is_refused_when_only_ed25519_keys_are_configured(signer: Signer):
    ed_only = GhlSignatureVerifier.from_pem(signer.ed25519_pem)
    assert not ed_only.verify(BODY, {"X-WH-Signature": signer.rsa_sig(BODY)}).ok
    assert ed_only.verify(BODY, {"X-GHL-Signature": signer.ed25519(BODY)}).ok  # the control


def _intake(verifier: GhlSignatureVerifier, queue: FakeQueue) -> WebhookIntake:
    # The fixture's event is from January 2026: not a replay for this test's purpose.
    return WebhookIntake(
        verifier,
        queue,
        workflow_secret="s3cret",
        location_id=LOCATION_ID,
        replay_after=timedelta(days=3650),
    )


def test_valid_rsa_signature_is_accepted_by_the_intake(
    verifier: GhlSignatureVerifier, signer: Signer
):
    queue = FakeQueue()
    reply = _intake(verifier, queue).handle(BODY, {"X-WH-Signature": signer.rsa_sig(BODY)})
    assert reply.status == 200 and len(queue.sent) == 1


@pytest.mark.parametrize(
    ("raw", "make_sig"),
    [
        (TAMPERED, lambda s: s.rsa_sig(BODY)),
        (BODY, lambda s: Signer().rsa_sig(BODY)),
        *[(BODY, lambda s, g=g: g) for g in GARBAGE_SIGNATURES],
    ],
    ids=["tampered-body", "other-key", *GARBAGE_IDS],
)
def test_forged_rsa_signature_is_refused_by_the_intake_with_401(
    verifier: GhlSignatureVerifier, signer: Signer, raw: bytes, make_sig: Any
):
    queue = FakeQueue()
    reply = _intake(verifier, queue).handle(raw, {"X-WH-Signature": make_sig(signer)})
    assert reply.status == 401 and not queue.sent


def test_ed25519_signature_is_refused_by_the_intake_when_no_ed25519_key_is_configured(
    signer: Signer,
):
    queue = FakeQueue()
    intake = _intake(GhlSignatureVerifier.from_pem(signer.rsa_pem), queue)
    reply = intake.handle(BODY, {"X-GHL-Signature": signer.ed25519(BODY)})
    assert reply.status == 401 and not queue.sent


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


# --- exact answers: the reason reaches GHL in the 401 body and the log ---------------------------


def test_verifier_answers_name_the_scheme_and_the_reason(
    verifier: GhlSignatureVerifier, signer: Signer
):
    other = Signer()
    cases = [
        ({}, AuthResult(False, "none", "no signature header")),
        ({"X-GHL-Signature": signer.ed25519(BODY)}, AuthResult(True, "ed25519")),
        ({"X-GHL-Signature": "AAAA"}, AuthResult(False, "ed25519", "malformed X-GHL-Signature")),
        (
            {"X-GHL-Signature": other.ed25519(BODY)},
            AuthResult(False, "ed25519", "X-GHL-Signature does not match"),
        ),
        ({"X-WH-Signature": signer.rsa_sig(BODY)}, AuthResult(True, "rsa")),
        ({"X-WH-Signature": "%%%%"}, AuthResult(False, "rsa", "malformed X-WH-Signature")),
        (
            {"X-WH-Signature": other.rsa_sig(BODY)},
            AuthResult(False, "rsa", "X-WH-Signature does not match"),
        ),
    ]
    for headers, expected in cases:
        assert verifier.verify(BODY, headers) == expected, headers


def test_a_signature_by_any_configured_key_is_accepted():
    """Rotation: GHL_WEBHOOK_PUBLIC_KEYS may hold the old and the new key; either verifies."""
    old, new = Signer(), Signer()
    both = GhlSignatureVerifier.from_pem(old.public_pem + new.public_pem)
    assert both.key_counts() == "2 Ed25519 + 2 RSA key(s)"
    for signer in (old, new):
        assert both.verify(BODY, {"X-GHL-Signature": signer.ed25519(BODY)}).ok
        assert both.verify(BODY, {"X-WH-Signature": signer.rsa_sig(BODY)}).ok


@pytest.mark.parametrize("stray", ["*", " ", "\n", "!"])
def test_a_valid_signature_with_characters_outside_base64_is_refused(signer: Signer, stray: str):
    verifier = GhlSignatureVerifier.from_pem(signer.public_pem)
    ed, rsa_sig = signer.ed25519(BODY), signer.rsa_sig(BODY)
    assert not verifier.verify(BODY, {"X-GHL-Signature": ed[:10] + stray + ed[10:]}).ok
    assert not verifier.verify(BODY, {"X-WH-Signature": rsa_sig[:10] + stray + rsa_sig[10:]}).ok


def test_a_pem_with_no_public_key_block_is_refused_with_its_reason():
    with pytest.raises(ValueError, match=r"^no PEM public key block found$"):
        load_public_keys("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_a_key_of_another_type_is_refused_by_name():
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(
        ValueError, match=r"^unsupported webhook key type \w*(EC|EllipticCurve)\w*PublicKey$"
    ):
        load_public_keys(public_pem(ec_key))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "headers", "expected"),
    [
        ("s3cret", {"X-Webhook-Secret": "s3cret"}, AuthResult(True, "workflow-secret")),
        (
            "",
            {"X-Webhook-Secret": "s3cret"},
            AuthResult(
                False, "workflow-secret", "workflow webhooks are off (no secret configured)"
            ),
        ),
        (
            "s3cret",
            {"X-Webhook-Secret": "wrong"},
            AuthResult(False, "workflow-secret", "wrong secret"),
        ),
        (
            "s3cret",
            {"Authorization": "Bearer wrong"},
            AuthResult(False, "workflow-secret", "wrong secret"),
        ),
        ("s3cret", {}, AuthResult(False, "workflow-secret", "no signature or secret")),
        (
            "s3cret",
            {"Authorization": "Basic s3cret"},
            AuthResult(False, "workflow-secret", "no signature or secret"),
        ),
    ],
)
def test_workflow_secret_answers_name_the_reason(
    secret: str, headers: dict[str, str], expected: AuthResult
):
    assert shared_secret_matches(secret, headers) == expected


def test_header_lookup_is_case_insensitive_and_na_or_blank_is_absent():
    assert header_value({"X-GHL-Signature": " abc "}, "x-ghl-signature") == "abc"
    assert header_value({"x-ghl-signature": "abc"}, "x-ghl-signature") == "abc"
    for blank in ("", "  ", "N/A", "n/a "):
        assert header_value({"X-GHL-Signature": blank}, "x-ghl-signature") is None
    assert header_value({}, "x-ghl-signature") is None
