"""Admin routes: `POST /sync/trigger`, `GET /sync/stats`, `GET /sync/contacts/{id}` and
`GET /sync/contacts?q=`, behind `Authorization: Bearer <token>`. A trigger or stats naming a
registered location (`location_id`) is that location's; without one, the built-in location's.

With no ADMIN_API_TOKEN configured the routes answer 503: never open.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.location import is_location_id
from chalicelib.domain.runs import RunActive
from chalicelib.inbound.webhook_auth import Secret
from chalicelib.ports import RunStarter, StatsSource
from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.explain import CONTACT_ID, ContactExplainer
from chalicelib.services.lookup import ContactLookup, InvalidQuery, LookupUnavailable
from chalicelib.services.replies import HttpReply, reply
from chalicelib.services.tenancy import Tenant, Tenants


class AdminApi:
    def __init__(
        self,
        token: Secret,
        reconciler: Callable[[], RunStarter],
        stats: Callable[[], StatsSource],
        explainer: Callable[[], ContactExplainer] | None = None,
        lookup: Callable[[], ContactLookup] | None = None,
        tenants: Callable[[], Tenants] | None = None,
    ) -> None:
        self._bearer = AdminBearer(token)
        self._reconciler = reconciler
        self._stats = stats
        self._explainer = explainer
        self._lookup = lookup
        self._tenants = tenants

    def _refusal(self, headers: Mapping[str, str]) -> HttpReply | None:
        return self._bearer.refusal(headers)

    def trigger(self, headers: Mapping[str, str], raw_body: bytes | str | None) -> HttpReply:
        refusal = self._refusal(headers)
        if refusal:
            return refusal
        mode: Any = "reconcile"
        location_id: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except (ValueError, RecursionError):
                return reply(400, "invalid", reason="body is not JSON")
            mode = body.get("mode", "reconcile") if isinstance(body, dict) else None
            location_id = body.get("location_id") if isinstance(body, dict) else None
        if mode not in ("reconcile", "backfill"):
            return reply(400, "invalid", reason='mode must be "reconcile" or "backfill"')
        tenant = self._tenant(location_id)
        if isinstance(tenant, HttpReply):
            return tenant
        runs = tenant.reconciler if tenant else self._reconciler()
        try:
            run = runs.start(mode=mode, trigger="api")
        except RunActive as active:
            return reply(409, "conflict", reason="a run is active", active_run_id=active.run_id)
        except ConfigurationError as exc:
            return reply(503, "unavailable", reason=str(exc))
        located = {"location_id": tenant.location.location_id} if tenant else {}
        return reply(202, "started", run_id=run.id, mode=run.mode, **located)

    def stats(self, headers: Mapping[str, str], location_id: str | None = None) -> HttpReply:
        refusal = self._refusal(headers)
        if refusal:
            return refusal
        tenant = self._tenant(location_id)
        if isinstance(tenant, HttpReply):
            return tenant
        stats = tenant.stats if tenant else self._stats()
        return HttpReply(200, stats.snapshot())

    def _tenant(self, location_id: object) -> Tenant | HttpReply | None:
        """The registered location `location_id` names; None for the built-in location (no id,
        or its id); else the reply that says why not."""
        if location_id is None:
            return None
        if not isinstance(location_id, str) or not is_location_id(location_id):
            return reply(400, "invalid", reason="location_id must match [A-Za-z0-9]{1,64}")
        tenants = self._tenants() if self._tenants else None
        if tenants is not None and tenants.is_builtin(location_id):
            return None
        try:
            tenant = tenants.tenant(location_id) if tenants else None
        except Exception:
            return reply(503, "unavailable", reason="location registry unavailable")
        if tenant is None:
            return reply(404, "not_found", reason="no active location with this id")
        return tenant

    def contact(self, headers: Mapping[str, str], contact_id: str) -> HttpReply:
        refusal = self._refusal(headers)
        if refusal:
            return refusal
        if not CONTACT_ID.fullmatch(contact_id or ""):
            return reply(400, "invalid", reason="contact id must match [A-Za-z0-9_-]{1,64}")
        if self._explainer is None:
            return reply(503, "unavailable", reason="contact explanations are not wired")
        return HttpReply(200, self._explainer().explain(contact_id))

    def find(self, headers: Mapping[str, str], q: str | None) -> HttpReply:
        """A contact by id, phone or email (services/lookup.py): 400 for a bad `q`, 503 when
        GHL cannot be asked."""
        refusal = self._refusal(headers)
        if refusal:
            return refusal
        if self._lookup is None:
            return reply(503, "unavailable", reason="contact lookup is not wired")
        try:
            return HttpReply(200, self._lookup().find(q))
        except InvalidQuery as exc:
            return reply(400, "invalid", reason=str(exc))
        except LookupUnavailable as exc:
            return reply(503, "unavailable", reason=str(exc))
