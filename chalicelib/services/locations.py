"""`PUT|GET|DELETE /locations/{id}` and `GET /locations`: the location registry's admin API
(docs/locations.md). Registers locations only: routing webhooks and syncing per location come
in later increments.

Tokens go in, never out: a reply shows what the registry stores, which holds none; validation
reasons name the field, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import SecretStr, ValidationError

from chalicelib.domain.errors import TransientError
from chalicelib.domain.location import (
    BuiltinLocation,
    Location,
    LocationRequest,
    LocationTokens,
    check_deployed_calltools_url,
    is_location_id,
    same_origin,
)
from chalicelib.domain.oauth import GhlAuthFailed
from chalicelib.domain.time import utcnow
from chalicelib.ports import LocationRegistry, LocationSecrets, TokenCheck, TokenChecks
from chalicelib.runtime.observability import logger
from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.oauth.tokens import GrantKeeper
from chalicelib.services.replies import HttpReply, reply

MAX_BODY_BYTES = 64 * 1024
TRUE_WORDS = frozenset({"1", "true", "yes"})


def _problems(error: ValidationError) -> str:
    """Each failing field and why, without the input (it may be a token)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {str(item['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _masked(detail: str, *tokens: SecretStr | None) -> str:
    """A check's detail may quote a reply; a reply could echo the token."""
    for token in tokens:
        if token is not None and token.get_secret_value():
            detail = detail.replace(token.get_secret_value(), "***")
    return detail[:300]


class LocationAdmin:
    def __init__(
        self,
        bearer: AdminBearer,
        registry: Callable[[], LocationRegistry],
        secrets: Callable[[], LocationSecrets],
        checks: Callable[[], TokenChecks],
        builtin: BuiltinLocation | None,
        clock: Callable[[], datetime] = utcnow,
        grants: Callable[[], GrantKeeper] | None = None,
        *,
        local_urls: bool = False,
    ) -> None:
        self._bearer = bearer
        self._registry = registry
        self._secrets = secrets
        self._checks = checks
        self._builtin = builtin
        self._clock = clock
        self._grants = grants  # OAuth locations' grants; None: OAuth is not configured
        # The local stack's sandboxes listen on loopback http; a deployed stage reaches public
        # https names only (domain/location.py, check_deployed_calltools_url).
        self.local_urls = local_urls

    def _guard(
        self, headers: Mapping[str, str], location_id: str | None = None
    ) -> HttpReply | None:
        refusal = self._bearer.refusal(headers)
        if refusal or location_id is None:
            return refusal
        if not is_location_id(location_id):
            return reply(400, "invalid", reason="location id must match [A-Za-z0-9]{1,64}")
        return None

    def _is_builtin(self, location_id: str) -> bool:
        return self._builtin is not None and self._builtin.location_id == location_id

    def _write_guard(self, headers: Mapping[str, str], location_id: str) -> HttpReply | None:
        """What refuses a PUT or DELETE: the bearer, the id, and the built-in location (409)."""
        refusal = self._guard(headers, location_id)
        if refusal or not self._is_builtin(location_id):
            return refusal
        return reply(
            409,
            "conflict",
            reason=f"location {location_id} is the built-in location, configured by environment "
            "(GHL_LOCATION_ID, its tokens, SYNC_RULES): change it there",
        )

    # --- reads -----------------------------------------------------------------------------------
    def list(self, headers: Mapping[str, str]) -> HttpReply:
        refusal = self._guard(headers)
        if refusal:
            return refusal
        shown = [self._builtin.public()] if self._builtin else []
        shown += [
            loc.public()
            for loc in self._registry().list()
            if not self._is_builtin(loc.location_id)  # the environment wins over a stale item
        ]
        return HttpReply(200, {"locations": shown})

    def show(self, headers: Mapping[str, str], location_id: str) -> HttpReply:
        refusal = self._guard(headers, location_id)
        if refusal:
            return refusal
        if self._builtin and self._is_builtin(location_id):
            return HttpReply(200, self._builtin.public())
        location = self._registry().get(location_id)
        if location is None:
            return reply(404, "not_found", reason=f"location {location_id} is not registered")
        return HttpReply(200, location.public())

    # --- writes ----------------------------------------------------------------------------------
    def put(
        self, headers: Mapping[str, str], location_id: str, raw_body: bytes | str | None
    ) -> HttpReply:
        refusal = self._write_guard(headers, location_id)
        if refusal:
            return refusal
        raw = raw_body.encode() if isinstance(raw_body, str) else raw_body or b""
        if len(raw) > MAX_BODY_BYTES:
            return reply(413, "too_large", reason=f"body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return reply(400, "invalid", reason="body is not JSON")
        if not isinstance(body, dict):
            return reply(400, "invalid", reason="body must be a JSON object")
        try:
            request = LocationRequest.model_validate(body)
        except ValidationError as exc:
            return reply(400, "invalid", reason=_problems(exc))
        if not self.local_urls:
            try:
                check_deployed_calltools_url(request.calltools_api_base_url)
            except ValueError as exc:
                return reply(400, "invalid", reason=str(exc))
        return self._save(location_id, request)

    def _save(self, location_id: str, request: LocationRequest) -> HttpReply:
        existing = self._registry().get(location_id)
        if existing is not None and existing.ghl_auth == "oauth":
            return self._save_installed(existing, request)
        # Fresh, not cached: an update checks and keeps what is stored now.
        stored = self._secrets().get(location_id, fresh=True) if existing else None
        ghl = request.ghl_api_token or (stored.ghl_api_token if stored else None)
        calltools = request.calltools_api_token or (stored.calltools_api_token if stored else None)
        moved = existing is not None and not same_origin(
            existing.calltools_api_base_url, request.calltools_api_base_url
        )
        if moved and request.calltools_api_token is None:
            # The check would send the stored key to the new server: whoever holds the admin
            # token could read it there. A key goes only where it was given for.
            return reply(
                400,
                "invalid",
                reason="calltools_api_token required: the CallTools base URL changed",
            )
        if ghl is None or calltools is None:
            missing = [
                name
                for name, token in (("ghl_api_token", ghl), ("calltools_api_token", calltools))
                if token is None
            ]
            return reply(400, "invalid", reason=f"{' and '.join(missing)} required: none stored")
        checked = self._check(location_id, request.calltools_api_base_url, ghl, calltools)
        if checked:
            return checked
        tokens = LocationTokens(ghl_api_token=ghl, calltools_api_token=calltools)
        return self._store(
            existing,
            Location(location_id=location_id, **self._fields(existing, request)),
            lambda: self._secrets().put(location_id, tokens),
        )

    def _fields(self, existing: Location | None, request: LocationRequest) -> dict[str, Any]:
        now = self._clock()
        return {
            "name": request.name,
            "calltools_api_base_url": request.calltools_api_base_url,
            "rules": request.rules,
            "pacing": request.pacing,
            "fields": request.fields,
            "active": True,  # a PUT registers: an inactive location is active again
            "created_at": existing.created_at if existing and existing.created_at else now,
            "updated_at": now,
        }

    def _save_installed(self, existing: Location, request: LocationRequest) -> HttpReply:
        """A location installed from the marketplace: its GHL token is its OAuth grant's,
        checked like a PIT; the CallTools token joins the grant in its secret, under the
        grant's lease (a refresh may be rotating the grant meanwhile)."""
        location_id = existing.location_id
        if request.ghl_api_token is not None:
            return reply(
                400,
                "invalid",
                reason=f"location {location_id} is installed from the GHL marketplace (OAuth): "
                "its GHL token comes from the install, omit ghl_api_token",
            )
        if self._grants is None:
            return reply(503, "unavailable", reason="OAuth is not configured in this deployment")
        stored = self._secrets().get(location_id, fresh=True)
        calltools = request.calltools_api_token or (stored.calltools_api_token if stored else None)
        if calltools is None:
            return reply(400, "invalid", reason="calltools_api_token required: none stored")
        grants = self._grants()
        try:
            ghl = SecretStr(grants.access_token(location_id))
        except GhlAuthFailed:
            return reply(
                422,
                "invalid",
                reason="GHL refused this location's OAuth grant: install the app again",
            )
        except TransientError:
            return reply(503, "unavailable", reason="GHL did not answer the OAuth refresh")
        checked = self._check(location_id, request.calltools_api_base_url, ghl, calltools)
        if checked:
            return checked

        def with_calltools(current: LocationTokens | None) -> LocationTokens:
            return (current or LocationTokens()).model_copy(
                update={"calltools_api_token": calltools}
            )

        location = Location.model_validate(
            {**existing.model_dump(), **self._fields(existing, request), "ghl_auth_failed": False}
        )
        return self._store(existing, location, lambda: grants.update(location_id, with_calltools))

    def _store(
        self, existing: Location | None, location: Location, write_secret: Callable[[], object]
    ) -> HttpReply:
        # The secret first: a registered location always has its tokens.
        write_secret()
        self._registry().put(location)
        created = existing is None
        logger.info(
            "location registered" if created else "location updated",
            extra={"location_id": location.location_id},
        )
        return reply(
            201 if created else 200, "created" if created else "updated", location=location.public()
        )

    def _check(
        self, location_id: str, base_url: str, ghl: SecretStr, calltools: SecretStr
    ) -> HttpReply | None:
        """Both tokens against their APIs before anything is saved; the refusal naming what
        failed (422), or 503 when an API could not say."""
        checks = self._checks()
        results: dict[str, TokenCheck] = {
            "ghl": checks.check_ghl(location_id, ghl.get_secret_value()),
            "calltools": checks.check_calltools(base_url, calltools.get_secret_value()),
        }
        if all(r.verdict == "ok" for r in results.values()):
            return None
        what = {
            "ghl": {
                "rejected": "GHL token rejected for this location",
                "unreachable": "GHL did not answer the token check",
            },
            "calltools": {
                "rejected": "CallTools token or base URL rejected",
                "unreachable": "CallTools did not answer the token check",
            },
        }
        rejected = [k for k, r in results.items() if r.verdict == "rejected"]
        failed = rejected or [k for k, r in results.items() if r.verdict != "ok"]
        verdict = "rejected" if rejected else "unreachable"
        logger.warning(
            "location token check failed",
            extra={"location_id": location_id, "failed": failed, "verdict": verdict},
        )
        return reply(
            422 if rejected else 503,
            "invalid" if rejected else "unavailable",
            reason="; ".join(what[k][verdict] for k in failed),
            checks={
                k: {"verdict": r.verdict, "detail": _masked(r.detail, ghl, calltools)}
                for k, r in results.items()
            },
        )

    def remove(
        self, headers: Mapping[str, str], location_id: str, query: Mapping[str, str] | None
    ) -> HttpReply:
        refusal = self._write_guard(headers, location_id)
        if refusal:
            return refusal
        if str((query or {}).get("remove_from_buckets", "")).lower() in TRUE_WORDS:
            return reply(
                501,
                "not_implemented",
                reason="remove_from_buckets is not built yet: nothing was changed",
            )
        stopped = self._registry().deactivate(location_id, self._clock())
        if stopped is None:
            return reply(404, "not_found", reason=f"location {location_id} is not registered")
        logger.info("location deactivated", extra={"location_id": location_id})
        return reply(200, "deactivated", location=stopped.public())
