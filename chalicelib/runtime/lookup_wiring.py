"""Builds the admin contact lookup (services/lookup.py) from a Container: the explainer it
shares, and a GHL client of its own, sized for the API function.

The API function answers within its 10 s Lambda timeout (API Gateway's 29 s besides), so its GHL
search gets short timeouts and one retry: a GHL that does not answer in time is a 503 "retry
later", never a timed-out invocation (a 502/504 at the gateway).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.ghl.api import GhlHttpApi
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.lookup import ContactLookup

# One search: at most two attempts of 3 s each, within 3 s of retrying (see the module doc).
LOOKUP_TIMEOUT_SECONDS = 3.0
LOOKUP_RETRY_BUDGET_SECONDS = 3.0
LOOKUP_MAX_ATTEMPTS = 2


def build_contact_lookup(c: Container) -> ContactLookup:
    from chalicelib.services.lookup import ContactLookup

    @cache  # built on the first phone or email query: an id never reads the GHL token
    def finder() -> GhlHttpApi:
        return _ghl_client(c)

    return ContactLookup(
        explainer=lambda: c.operator.explainer,
        finder=finder,
        location_id=c.settings.ghl.location_id,
        default_region=c.settings.sync.default_phone_region,
    )


def _ghl_client(c: Container) -> GhlHttpApi:
    from chalicelib.adapters.ghl.api import GhlHttpApi
    from chalicelib.adapters.http.client import ClientOptions
    from chalicelib.adapters.http.retry import RetryPolicy

    ghl = c.settings.ghl
    return GhlHttpApi(
        ghl.api_base_url,
        c.secret("ghl_api_token"),
        version=ghl.api_version,
        options=ClientOptions(
            # An operator's lookups are few: a consumer instance's share of the rate is plenty.
            max_rps=ghl.max_rps / c.settings.queue.consumer_max_concurrency,
            timeout=min(c.settings.http.timeout_seconds, LOOKUP_TIMEOUT_SECONDS),
            retry=RetryPolicy(
                budget_seconds=LOOKUP_RETRY_BUDGET_SECONDS,
                max_attempts=LOOKUP_MAX_ATTEMPTS,
                # The container's sleep, read when used (tests record back-off instead).
                sleep=lambda seconds: c.retry_policy.sleep(seconds),
            ),
        ),
    )
