"""Builds GHL's OAuth parts (services/oauth) from a Container's adapters, once each; apart from
wiring.py, as location_wiring.py is. Imports happen inside each builder.

OAuth is on when GHL_OAUTH_CLIENT_ID, GHL_APP_ID and the client secret (plain or by its secret
id) are set; off, the callback answers 503 and INSTALL / UNINSTALL events are ignored.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.location_secrets import LocationSecretStore
    from chalicelib.adapters.aws.token_lease import DynamoTokenLease
    from chalicelib.adapters.ghl.oauth import GhlOAuthHttp
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.oauth.app_events import AppEvents
    from chalicelib.services.oauth.callback import OAuthCallback
    from chalicelib.services.oauth.ghl_tokens import LocationGhlTokens
    from chalicelib.services.oauth.install import OAuthInstaller
    from chalicelib.services.oauth.tokens import GrantKeeper
    from chalicelib.services.tenancy import ForgetfulRegistry

COMPANIES = "companies/"  # agency grants: `<LOCATION_SECRETS_PREFIX>companies/<companyId>`


class OAuthWiring:
    def __init__(self, container: Container) -> None:
        self._c = container

    @property
    def enabled(self) -> bool:
        s = self._c.settings
        plain, secret_id = s.secret_setting("ghl_oauth_client_secret")
        return s.ghl.oauth_configured and bool(plain.get_secret_value().strip() or secret_id)

    @cached_property
    def api(self) -> GhlOAuthHttp:
        from chalicelib.adapters.ghl.oauth import GhlOAuthHttp

        s = self._c.settings
        return GhlOAuthHttp(
            s.ghl.api_base_url,
            s.ghl.oauth_client_id.strip(),
            self._c.secret("ghl_oauth_client_secret"),
            s.ghl.app_id.strip(),
            redirect_uri=s.ghl.oauth_redirect_uri,
            version=s.ghl.api_version,
            # Inside the API function's 10 s, and well inside the refresh lease.
            timeout=min(4.0, s.http.timeout_seconds),
        )

    @cached_property
    def lease(self) -> DynamoTokenLease:
        from chalicelib.adapters.aws.token_lease import DynamoTokenLease

        return DynamoTokenLease(self._c.dynamodb.Table(self._c.settings.state.table_name))

    @cached_property
    def registry(self) -> ForgetfulRegistry:
        """The registry as installs write it: this container's webhooks see a change at once."""
        from chalicelib.services.tenancy import ForgetfulRegistry

        locations = self._c.locations
        return ForgetfulRegistry(lambda: locations.registry, locations.tenancy.directory.forget)

    @cached_property
    def company_secrets(self) -> LocationSecretStore:
        from chalicelib.adapters.aws.location_secrets import LocationSecretStore

        s = self._c.settings.secrets
        return LocationSecretStore(
            lambda: self._c.boto_client("secretsmanager"),
            s.location_prefix + COMPANIES,
            max_age=s.max_age_seconds,
        )

    @cached_property
    def location_grants(self) -> GrantKeeper:
        from chalicelib.domain.time import utcnow
        from chalicelib.services.oauth.install import mark_auth_failed
        from chalicelib.services.oauth.tokens import GrantKeeper

        def mark(location_id: str, _reason: str) -> None:
            mark_auth_failed(self.registry, location_id, utcnow())

        return GrantKeeper(
            lambda: self._c.locations.secrets, lambda: self.api, lambda: self.lease, on_refused=mark
        )

    @cached_property
    def company_grants(self) -> GrantKeeper:
        from chalicelib.services.oauth.tokens import GrantKeeper

        return GrantKeeper(
            lambda: self.company_secrets, lambda: self.api, lambda: self.lease, kind="company"
        )

    @cached_property
    def installer(self) -> OAuthInstaller:
        from chalicelib.services.oauth.install import OAuthInstaller

        builtin = self._c.locations.builtin
        return OAuthInstaller(
            lambda: self.api,
            self.location_grants,
            self.company_grants,
            lambda: self.registry,
            builtin_id=builtin.location_id if builtin else "",
        )

    @cached_property
    def callback(self) -> OAuthCallback:
        from chalicelib.services.oauth.callback import OAuthCallback

        return OAuthCallback((lambda: self.installer) if self.enabled else None)

    @cached_property
    def app_events(self) -> AppEvents:
        """`handle_install_event(body)`: the intake's call for a verified INSTALL / UNINSTALL."""
        from chalicelib.services.oauth.app_events import AppEvents

        return AppEvents(
            (lambda: self.installer) if self.enabled else None, self._c.settings.ghl.app_id
        )

    @cached_property
    def ghl_tokens(self) -> LocationGhlTokens:
        """The GHL token of a registered location, PIT or OAuth: `token_for(location)`."""
        from chalicelib.services.ghl_tokens import PitGhlTokens
        from chalicelib.services.oauth.ghl_tokens import LocationGhlTokens

        return LocationGhlTokens(
            PitGhlTokens(lambda: self._c.locations.secrets),
            (lambda: self.location_grants) if self.enabled else None,
        )
