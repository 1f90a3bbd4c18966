"""How an API client talks HTTP, as one value: timeout, retries, its share of the API's rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from chalicelib.adapters.http.pacing import RatePacer
from chalicelib.adapters.http.retry import RetryPolicy


@dataclass(frozen=True)
class ClientOptions:
    # This client's share of the API's rate (0: unpaced): no default, each API has its own.
    max_rps: float
    burst: int = 1  # calls it may start at once after an idle moment
    timeout: float = 10.0  # per request
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.BaseTransport | None = None  # tests answer from a MockTransport

    def client(self, base_url: str, headers: dict[str, str], auth: httpx.Auth) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            headers=headers,
            auth=auth,
            timeout=self.timeout,
            transport=self.transport,
        )

    def pacer(self) -> RatePacer:
        return RatePacer(self.max_rps, burst=self.burst)
