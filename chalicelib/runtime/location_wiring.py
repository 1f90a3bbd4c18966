"""Builds the location registry's parts (docs/locations.md) from a Container's adapters, once each.

Apart from wiring.py, as outcome_wiring.py is; imports happen inside each builder: only the admin
routes of locations load any of this.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.location_secrets import LocationSecretStore
    from chalicelib.adapters.aws.locations import DynamoLocationRegistry
    from chalicelib.adapters.token_checks import ApiTokenChecks
    from chalicelib.domain.location import BuiltinLocation
    from chalicelib.runtime.tenant_wiring import TenantWiring
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.locations import LocationAdmin


class LocationWiring:
    def __init__(self, container: Container) -> None:
        self._c = container

    @cached_property
    def registry(self) -> DynamoLocationRegistry:
        from chalicelib.adapters.aws.locations import DynamoLocationRegistry

        return DynamoLocationRegistry(self._c.dynamodb.Table(self._c.settings.state.table_name))

    @cached_property
    def secrets(self) -> LocationSecretStore:
        from chalicelib.adapters.aws.location_secrets import LocationSecretStore

        s = self._c.settings.secrets
        return LocationSecretStore(
            lambda: self._c.boto_client("secretsmanager"),
            s.location_prefix,
            max_age=s.max_age_seconds,
        )

    @cached_property
    def checks(self) -> ApiTokenChecks:
        from chalicelib.adapters.token_checks import ApiTokenChecks

        ghl = self._c.settings.ghl
        # Both checks fit in the API function's 10 s, with room for the writes.
        timeout = min(4.0, self._c.settings.http.timeout_seconds)
        return ApiTokenChecks(ghl.api_base_url, ghl.api_version, timeout=timeout)

    @property
    def builtin(self) -> BuiltinLocation | None:
        """The environment's location, when GHL_LOCATION_ID is set."""
        from chalicelib.domain.location import BuiltinLocation

        s = self._c.settings
        location_id = s.ghl.location_id.strip()
        if not location_id:
            return None
        return BuiltinLocation(location_id, s.calltools.api_base_url, tuple(s.rules))

    @cached_property
    def tenancy(self) -> TenantWiring:
        """Each registered location's own sync, and the registry as webhooks read it."""
        from chalicelib.runtime.tenant_wiring import TenantWiring

        return TenantWiring(self._c)

    @cached_property
    def admin(self) -> LocationAdmin:
        from chalicelib.services.admin_auth import AdminBearer
        from chalicelib.services.locations import LocationAdmin
        from chalicelib.services.tenancy import ForgetfulRegistry

        # A change made here is seen by this container's webhooks at once, others' within
        # their cache's minute.
        registry = ForgetfulRegistry(lambda: self.registry, self.tenancy.directory.forget)
        oauth = self._c.oauth
        return LocationAdmin(
            AdminBearer(self._c.secret("admin_api_token")),
            registry=lambda: registry,
            secrets=lambda: self.secrets,
            checks=lambda: self.checks,
            builtin=self.builtin,
            grants=(lambda: oauth.location_grants) if oauth.enabled else None,
            local_urls=not self._c.settings.aws.in_lambda,
        )
