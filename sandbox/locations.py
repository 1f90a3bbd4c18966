"""Another client of the agency on the local stack: a GHL location hosted by the stack's GHL
sandbox (its own PIT and contacts) and a CallTools account of its own (a second sandbox instance,
own token, base URL and ids). For a stack's tests and for showing how to register a second
location with the app (`PUT /locations/{id}`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.calltools import CallToolsSandbox
from sandbox.ghl.location import GhlLocation
from sandbox.stack import LocalStack

ACCOUNT_ID_STEP = 1_000_000  # the n-th extra account's ids start n million higher


@dataclass
class ExtraLocation:
    ghl: GhlLocation
    calltools: CallToolsSandbox
    bucket: str  # the account's first bucket, where the default rule sends `cold lead`

    @property
    def location_id(self) -> str:
        return self.ghl.location_id

    def registration(self, rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The body of the app's `PUT /locations/{location_id}` for this location (secrets
        included: it is what an operator would send). By default: tag `cold lead` to the
        account's first bucket."""
        return {
            "name": self.ghl.name,
            "ghl_api_token": self.ghl.token,
            "calltools_api_base_url": self.calltools.base_url,
            "calltools_api_token": self.calltools.token,
            "rules": rules or [{"tag": "cold lead", "bucket": self.bucket}],
        }


def add_location(
    stack: LocalStack,
    location_id: str | None = None,
    *,
    name: str | None = None,
    buckets: list[dict[str, Any]] | None = None,
) -> ExtraLocation:
    """Host one more location in the stack's GHL sandbox and start a CallTools account for it
    (stopped with the stack). RuntimeError when the stack talks to the real GHL."""
    if stack.ghl is None:
        raise RuntimeError("the stack uses the real GHL: install the app on the location there")
    n = len(stack.ghl.locations)  # 1 for the first extra location
    ghl = stack.ghl.add_location(location_id, name=name)
    buckets = buckets or [{"id": 70412 + 1000 * n, "name": f"Cold Leads ({ghl.name})"}]
    calltools = CallToolsSandbox(
        token=f"sandbox-calltools-token-{n + 1}",
        buckets=buckets,
        id_offset=ACCOUNT_ID_STEP * n,
    ).start()
    stack.keep(calltools)
    return ExtraLocation(ghl, calltools, str(buckets[0]["name"]))
