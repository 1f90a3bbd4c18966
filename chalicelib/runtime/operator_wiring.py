"""What operators use, built from a Container: `/sync/stats`, the admin API, the status page
(`/admin`), and a contact's explanation and lookup."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.admin import AdminApi
    from chalicelib.services.admin_page.page import AdminPage
    from chalicelib.services.explain import ContactExplainer
    from chalicelib.services.lookup import ContactLookup
    from chalicelib.services.stats import StatsService


class OperatorWiring:
    def __init__(self, container: Container) -> None:
        self._c = container

    @cached_property
    def stats(self) -> StatsService:
        from chalicelib.services.stats import StatsService

        # Bucket names as the consumer resolved them: this function holds no CallTools token.
        return StatsService(
            states=self._c.state_store,
            runs=self._c.run_store,
            queue=self._c.queue,
            bucket_names=self._c.state_store.bucket_names,
            outcomes=lambda: self._c.outcomes.store.tally(),
        )

    @cached_property
    def admin_api(self) -> AdminApi:
        from chalicelib.services.admin import AdminApi

        return AdminApi(
            self._c.secret("admin_api_token"),
            reconciler=lambda: self._c.outcomes.runs,
            stats=lambda: self.stats,
            explainer=lambda: self.explainer,
            lookup=lambda: self.contact_lookup,
            tenants=lambda: self._c.locations.tenancy.tenants,
        )

    @cached_property
    def admin_page(self) -> AdminPage:
        from chalicelib.adapters.aws.throttle import DynamoLoginThrottle
        from chalicelib.services.admin_page.page import AdminPage

        return AdminPage(
            self._c.secret("admin_api_token"),
            stats=lambda: self.stats,
            dead_letters=lambda: self._c.queue,
            runs=lambda: self._c.outcomes.runs,
            find=lambda: self.contact_lookup.find,
            throttle=lambda: DynamoLoginThrottle(
                self._c.dynamodb.Table(self._c.settings.state.table_name)
            ),
        )

    @cached_property
    def explainer(self) -> ContactExplainer:
        from chalicelib.services.explain import ContactExplainer

        # One GetItem on the state table, and the bucket names the consumer stored.
        return ContactExplainer(self._c.state_store.get, self._c.state_store.bucket_names)

    @cached_property
    def contact_lookup(self) -> ContactLookup:
        """A contact by id, phone or email (GHL's search), explained: runtime/lookup_wiring.py."""
        from chalicelib.runtime.lookup_wiring import build_contact_lookup

        return build_contact_lookup(self._c)
