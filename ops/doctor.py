"""`doctor`: check every setting and probe the live accounts, naming the exact failing check.

It also reports how contacts are put in buckets on this CallTools account — the one fact the
public docs leave open — from a probe on a contact the operator names (`--probe-contact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from chalicelib.runtime.settings import Settings
from chalicelib.runtime.wiring import Container

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _run(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, "ok", probe())
    except Exception as exc:  # the doctor's job is to report, not to stop
        return Check(name, "fail", f"{type(exc).__name__}: {exc}")


def diagnose(settings: Settings, probe_contact: int | None = None) -> list[Check]:
    c = Container(settings)
    s = settings
    checks = [
        Check(
            "settings: location",
            "fail" if s.scope_problem else "ok",
            s.scope_problem or s.ghl.location_id,
        ),
        Check("settings: rules", "ok", ", ".join(f"{r.tag!r} → {r.bucket!r}" for r in s.rules)),
    ]
    for name in ("ghl_api_token", "calltools_api_token", "ghl_workflow_secret", "admin_api_token"):
        plain, secret_id = s.secret_setting(name)
        has_value = bool(plain.get_secret_value() or secret_id)
        required = name in ("ghl_api_token", "calltools_api_token")
        status: Status = "ok" if has_value else "fail" if required else "warn"
        detail = (
            "set"
            if has_value
            else f"{name.upper()} not set" + ("" if required else " (feature off)")
        )
        checks.append(Check(f"settings: {name}", status, detail))

    checks.append(_run("webhook keys", lambda: _keys(s)))
    checks.append(
        _run("GHL: location readable", lambda: c.ghl.get_location_name(s.ghl.location_id) or "ok")
    )
    checks.append(
        _run(
            "GHL: contact search",
            lambda: (
                f"{s.rules[0].tag!r}: total "
                + str(c.ghl.search_contacts(s.ghl.location_id, s.rules[0].tag, None, 1).total)
            ),
        )
    )
    checks.append(_run("CallTools: API key", lambda: _calltools_auth(c)))
    for rule in s.rules:
        checks.append(_run(f"CallTools: bucket {rule.bucket!r}", _bucket_probe(c, rule.bucket)))
    checks.append(_bucket_method(c, probe_contact))
    checks.append(
        _run(
            "AWS: queue and DLQ",
            lambda: f"queue depth {c.queue.depth()}, DLQ depth {c.queue.dlq_depth()}",
        )
    )
    checks.append(_run("AWS: state table", lambda: _table(c)))
    return checks


def _secret_check(c: Container, name: str) -> Check:
    """Set, and readable: a Secrets Manager id is read now, not only named."""
    required = name in ("ghl_api_token", "calltools_api_token")
    _, secret_id = c.settings.secret_setting(name)
    try:
        value = c.secret(name)()
    except Exception as exc:
        return Check(f"settings: {name}", "fail", f"secret {secret_id!r} unreadable: {exc}")
    if value:
        return Check(
            f"settings: {name}", "ok", f"from secret {secret_id!r}" if secret_id else "set"
        )
    detail = f"{name.upper()} not set" + ("" if required else " (feature off)")
    return Check(f"settings: {name}", "fail" if required else "warn", detail)


def _keys(s: Settings) -> str:
    from chalicelib.adapters.ghl.signature import GhlSignatureVerifier

    verifier = GhlSignatureVerifier.from_pem(s.ghl.webhook_public_keys)
    source = "GHL_WEBHOOK_PUBLIC_KEYS" if s.ghl.webhook_public_keys else "GHL's published keys"
    return f"{verifier.key_counts()} from {source}"


def _calltools_auth(c: Container) -> str:
    return f"{len(c.calltools.list_buckets())} bucket(s) listed"


def _bucket_probe(c: Container, bucket: str | int) -> Callable[[], str]:
    def probe() -> str:
        bucket_id, name = c.calltools.resolve_bucket(bucket)
        return f"id {bucket_id} ({name})"

    return probe


def _table(c: Container) -> str:
    c.state_store.scan(None, 1)
    return c.settings.state.table_name


def _bucket_method(c: Container, probe_contact: int | None) -> Check:
    name = "CallTools: bucket assignment"
    configured = c.settings.calltools.bucket_method
    if probe_contact is None:
        return Check(
            name,
            "warn",
            f"configured {configured!r}; pass --probe-contact <CallTools contact id> (a test "
            "contact) to find the call that works on this account",
        )

    def probe() -> str:
        bucket_id, bucket_name = c.calltools.resolve_bucket(c.settings.rules[0].bucket)
        was_member = c.calltools.is_member(probe_contact, bucket_id)
        c.calltools.set_bucket_membership(probe_contact, bucket_id, member=not was_member)
        c.calltools.set_bucket_membership(probe_contact, bucket_id, member=was_member)
        return f"{c.calltools.bucket_method!r} works (verified on contact {probe_contact}, {bucket_name})"

    return _run(name, probe)
