"""`doctor`: check every setting and probe the live accounts, naming the exact failing check.

It also reports how contacts are put in buckets on this CallTools account — the one fact the
public docs leave open — from a probe on a contact the operator names (`--probe-contact`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.adapters.calltools.hooks import RestHooks, hook_url, mask_token
from chalicelib.runtime.observability import redact
from chalicelib.runtime.settings import Settings
from chalicelib.runtime.wiring import Container
from ops.doctor_locations import location_auth
from ops.hooks import ours

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


def diagnose(
    settings: Settings, probe_contact: int | None = None, *, api_url: str = ""
) -> list[Check]:
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
    for name in (
        "ghl_api_token",
        "calltools_api_token",
        "ghl_workflow_secret",
        "admin_api_token",
        "calltools_webhook_secret",
    ):
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
    try:
        secret = c.secret("calltools_webhook_secret")()
    except Exception as exc:
        checks.append(Check("CallTools: outcome hook", "fail", f"webhook secret unreadable: {exc}"))
    else:
        checks += outcome_hook_checks(c.calltools.rest_hooks(), secret, api_url)
    checks.append(
        _run(
            "AWS: queue and DLQ",
            lambda: f"queue depth {c.queue.depth()}, DLQ depth {c.queue.dlq_depth()}",
        )
    )
    checks.append(_run("AWS: state table", lambda: _table(c)))
    checks.append(_locations(c))
    return checks


def _locations(c: Container) -> Check:
    name = "locations: GHL auth"
    try:
        status, detail = location_auth(c.locations.registry.list())
    except Exception as exc:  # the doctor reports, it does not stop
        return Check(name, "fail", f"{type(exc).__name__}: {exc}")
    return Check(name, status, detail)


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


def outcome_hook_checks(hooks: RestHooks, secret: str, api_url: str) -> list[Check]:
    """Whether CallTools sends call outcomes to this stage, and its latest delivery errors."""
    name = "CallTools: outcome hook"
    if not secret:
        hook = Check(name, "warn", "CALLTOOLS_WEBHOOK_SECRET not set (call outcomes off)")
    elif not api_url:
        hook = Check(name, "warn", "no API URL to look for: pass --url or set SYNC_API_URL")
    else:
        hook = _checked(name, "fail", _subscription(hooks, hook_url(api_url, secret)))
    # The error log's shape is undocumented: an unreadable one is a warning, not a failure.
    errors = _checked("CallTools: hook delivery errors", "warn", _error_logs(hooks))
    return [hook, errors]


def _checked(name: str, failed: Status, probe: Callable[[str], Check]) -> Check:
    try:
        return probe(name)
    except Exception as exc:  # the doctor's job is to report, not to stop
        return Check(name, failed, mask_token(f"{type(exc).__name__}: {exc}"))


def _subscription(hooks: RestHooks, wanted: str) -> Callable[[str], Check]:
    def probe(name: str) -> Check:
        found = ours(hooks.subscriptions(), wanted)
        if found.current:
            ids = ", ".join(str(s.id) for s in found.current)
            return Check(name, "ok", f"subscription {ids} → {mask_token(wanted)}")
        if found.stale:
            ids = ", ".join(str(s.id) for s in found.stale)
            return Check(
                name,
                "warn",
                f"subscription {ids} sends here with another token (refused): run "
                "`python -m ops.cli hooks install --replace`",
            )
        return Check(
            name,
            "warn",
            f"no subscription to {mask_token(wanted)}: run `python -m ops.cli hooks install`",
        )

    return probe


def _error_logs(hooks: RestHooks, shown: int = 3) -> Callable[[str], Check]:
    def probe(name: str) -> Check:
        entries = hooks.error_logs(shown)
        if not entries:
            return Check(name, "ok", "none logged")
        return Check(name, "warn", " | ".join(_entry(e) for e in entries))

    return probe


def _entry(entry: dict[str, Any], limit: int = 200) -> str:
    """One error log entry, short; masked again here (it may echo a payload with a phone)."""
    text = json.dumps(entry, default=str, separators=(",", ":"))
    return redact(mask_token(text))[:limit]
