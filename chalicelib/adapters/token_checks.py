"""Is this token good? One cheap read through the real API clients, with the token given:
GHL `POST /contacts/search` of one contact in the location, CallTools `GET /api/buckets/` of one.

A check runs inside an admin request (the API function has 10 s): one attempt each, a short
timeout, unpaced. A refusal (4xx) is "rejected"; no answer (timeout, 5xx, 429) is "unreachable".
"""

from __future__ import annotations

from chalicelib.adapters.calltools.api import CallToolsHttpApi
from chalicelib.adapters.ghl.api import GhlHttpApi
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import RetryPolicy
from chalicelib.domain.errors import (
    ConfigurationError,
    NotFound,
    PermanentError,
    SyncError,
    TransientError,
)
from chalicelib.ports import TokenCheck


def _verdict(error: SyncError) -> TokenCheck:
    if isinstance(error, ConfigurationError | NotFound | PermanentError):
        return TokenCheck("rejected", str(error))
    return TokenCheck("unreachable", str(error))


class ApiTokenChecks:
    def __init__(
        self,
        ghl_base_url: str,
        ghl_version: str,
        *,
        timeout: float = 4.0,
        options: ClientOptions | None = None,
    ) -> None:
        self._ghl_base_url = ghl_base_url
        self._ghl_version = ghl_version
        self._options = options or ClientOptions(
            max_rps=0, timeout=timeout, retry=RetryPolicy(budget_seconds=timeout, max_attempts=1)
        )

    def check_ghl(self, location_id: str, token: str) -> TokenCheck:
        api = GhlHttpApi(
            self._ghl_base_url, token, version=self._ghl_version, options=self._options
        )
        try:
            api.probe_location(location_id)
        except (ConfigurationError, PermanentError, TransientError) as error:
            return _verdict(error)
        return TokenCheck("ok")

    def check_calltools(self, base_url: str, token: str) -> TokenCheck:
        api = CallToolsHttpApi(base_url, token, options=self._options)
        try:
            api.probe()
        except (ConfigurationError, NotFound, PermanentError, TransientError) as error:
            return _verdict(error)
        return TokenCheck("ok")
