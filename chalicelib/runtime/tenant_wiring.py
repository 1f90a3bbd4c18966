"""Builds each registered location's own parts (docs/locations.md): its GHL and CallTools clients
(own tokens, own pacers), its rules, field mapping and keys. One Tenant per location per
container, built on first use and again when the registry shows the location changed; the
built-in location keeps the Container's own parts, unchanged.

Apart from wiring.py, as location_wiring.py is; imports happen inside each builder.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.state import DynamoStateStore
    from chalicelib.adapters.ghl.api import GhlHttpApi
    from chalicelib.domain.keyspace import Keyspace
    from chalicelib.domain.location import Location
    from chalicelib.domain.sync_plan import FieldMapping
    from chalicelib.ports import GhlTokens
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.reconcile import Reconciler
    from chalicelib.services.rule_book import RuleBook
    from chalicelib.services.stats import StatsService
    from chalicelib.services.tenancy import CachedDirectory, Tenant, Tenants


class TenantWiring:
    def __init__(self, container: Container) -> None:
        self._c = container

    @cached_property
    def directory(self) -> CachedDirectory:
        """The registry as the webhook and the consumer read it: briefly cached."""
        from chalicelib.services.tenancy import CachedDirectory

        return CachedDirectory(lambda: self._c.locations.registry)

    @cached_property
    def ghl_tokens(self) -> GhlTokens:
        """THE seam for a location's GHL token: `pit` or `oauth` (runtime/oauth_wiring.py)."""
        return self._c.oauth.ghl_tokens

    @cached_property
    def tenants(self) -> Tenants:
        from chalicelib.services.tenancy import Tenants

        return Tenants(self._c.settings.ghl.location_id, self.directory, self.build)

    def start_runs(self, trigger: str) -> dict[str, str]:
        """One run per registered, active location (services/tenancy.py)."""
        from chalicelib.services.tenancy import start_every_location

        return start_every_location(
            lambda: self._c.locations.registry.list(), self.tenants, trigger
        )

    def build(self, location: Location) -> Tenant:
        from chalicelib.adapters.aws.idempotency import LocationDedup
        from chalicelib.adapters.aws.state import DynamoStateStore
        from chalicelib.adapters.calltools.account import AccountConventions
        from chalicelib.adapters.calltools.api import CallToolsHttpApi
        from chalicelib.adapters.ghl.api import GhlHttpApi
        from chalicelib.domain.errors import ConfigurationError
        from chalicelib.domain.keyspace import Keyspace
        from chalicelib.domain.location import check_deployed_calltools_url
        from chalicelib.domain.scope import Scope
        from chalicelib.domain.sync_plan import FieldMapping
        from chalicelib.services.ghl_tokens import calltools_token
        from chalicelib.services.rule_book import AccountMemory, RuleBook
        from chalicelib.services.sync import ContactSync, SyncTimings
        from chalicelib.services.tenancy import Tenant

        c, s = self._c, self._c.settings
        if s.aws.in_lambda:
            # An item stored before the deployed rule (services/locations.py): no clients.
            try:
                check_deployed_calltools_url(location.calltools_api_base_url)
            except ValueError as exc:
                raise ConfigurationError(f"location {location.location_id}: {exc}") from None
        keys = Keyspace(location.location_id)
        pacing, fields = location.pacing, location.fields
        tokens, secrets = self.ghl_tokens, lambda: c.locations.secrets
        # Providers, read on each request through the secrets' cache: a rotated token is taken
        # up without a rebuild, and no token is held by a Location or logged.
        ghl = GhlHttpApi(
            s.ghl.api_base_url,
            lambda: tokens.token_for(location),
            version=s.ghl.api_version,
            # GHL's budget is per location: this location's pacer, at its own rate.
            options=c._client_options(pacing.ghl_max_rps or s.ghl.max_rps, s.ghl.burst),
        )
        mapping = FieldMapping(
            phone_field=fields.phone_field or s.calltools.phone_field,
            ghl_id_field=fields.ghl_id_field or s.calltools.ghl_id_field,
            default_region=s.sync.default_phone_region,
        )
        calltools = CallToolsHttpApi(
            location.calltools_api_base_url,
            lambda: calltools_token(secrets, location),
            account=AccountConventions(
                bucket_method=s.calltools.bucket_method,
                ghl_id_field=mapping.ghl_id_field,
                default_region=mapping.default_region,
            ),
            # CallTools' limit is per account: this account's pacer.
            options=c._client_options(
                pacing.calltools_max_rps or s.calltools.max_rps, s.calltools.burst
            ),
        )
        store = DynamoStateStore(c.dynamodb.Table(s.state.table_name), keys)
        # Marked with the location's version: a PUT that moves it to another account never
        # reuses the ids its old account resolved.
        memory = AccountMemory(store, str(location.updated_at))
        rulebook = RuleBook(
            location.rules, calltools, on_resolved=store.note_bucket_names, memory=memory
        )
        sync = ContactSync(
            ghl=ghl,
            calltools=calltools,
            store=store,
            rulebook=rulebook,
            mapping=mapping,
            scope=Scope(location.location_id, s.ghl.app_id),
            timings=SyncTimings(
                lease_seconds=s.state.contact_lease_seconds,
                snapshot_trust_seconds=s.sync.snapshot_trust_seconds,
                create_settle_seconds=s.calltools.create_settle_seconds,
            ),
            search=ghl,
        )
        reconciler = self._reconciler(location, ghl, store, rulebook, mapping, keys)
        return Tenant(
            location,
            sync,
            LocationDedup(c.dedup, keys),
            reconciler=reconciler,
            stats=self._stats(store, reconciler),
        )

    def _reconciler(
        self,
        location: Location,
        ghl: GhlHttpApi,
        store: DynamoStateStore,
        rulebook: RuleBook,
        mapping: FieldMapping,
        keys: Keyspace,
    ) -> Reconciler:
        """As the Container's reconciler, over this location's search, state, rules and run
        items (`loc#<id>#run#...`: its own lock and checkpoint), paced at its account's rate."""
        from chalicelib.adapters.aws.runs import DynamoRunStore
        from chalicelib.runtime.run_wiring import build_reconciler
        from chalicelib.services.reconcile import WalkScope

        c = self._c
        return build_reconciler(
            c.settings.reconcile,
            search=ghl,
            states=store,
            runs=DynamoRunStore(c.dynamodb.Table(c.settings.state.table_name), keys),
            queue=c.queue,
            scope=WalkScope(location.location_id, rulebook, mapping),
            calltools_rps=location.pacing.calltools_max_rps or c.settings.calltools.max_rps,
            location_id=location.location_id,
        )

    def _stats(self, store: DynamoStateStore, reconciler: Reconciler) -> StatsService:
        from chalicelib.services.stats import StatsService

        return StatsService(
            states=store,
            runs=reconciler.runs,
            queue=self._c.queue,
            bucket_names=store.bucket_names,
        )
