"""Registered locations for component tests: each a location hosted by the test's GHL sandbox
(its own PIT) and a CallTools sandbox account of its own, registered through `PUT /locations`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.calltools import CallToolsSandbox
from sandbox.ghl.location import GhlLocation
from tests.support.helpers import GhlMirror
from tests.support.service import Service

BUCKET_ID = 81000  # the n-th location's account: its one bucket, "Cold Leads", is 81000 + n


@dataclass
class Tenant:
    ghl: GhlLocation
    calltools: CallToolsSandbox
    bucket_id: int
    mirror: GhlMirror = field(init=False)
    generated: list[str] = field(default_factory=list)  # contacts a test generated in GHL

    def __post_init__(self) -> None:
        self.mirror = GhlMirror(self.ghl.upsert_contact, self.ghl.delete_contact)

    @property
    def location_id(self) -> str:
        return self.ghl.location_id

    def registration(self) -> dict[str, Any]:
        return {
            "name": self.ghl.name,
            "ghl_api_token": self.ghl.token,
            "calltools_api_base_url": self.calltools.base_url,
            "calltools_api_token": self.calltools.token,
            "rules": [{"tag": "cold lead", "bucket": "Cold Leads"}],
        }

    def tagged(self) -> set[str]:
        """The generated contacts that carry `cold lead` in GHL."""
        contacts = (self.ghl.contact(cid) for cid in self.generated)
        return {str(c["id"]) for c in contacts if c and "cold lead" in c.get("tags", [])}

    def members(self) -> set[str]:
        """The GHL ids of the contacts in this account's bucket."""
        ids = self.calltools.bucket_members(self.bucket_id)
        return {str(c.get("ghl_contact_id")) for c in self.calltools.contacts() if c["id"] in ids}


@contextmanager
def hosted_tenants(
    service: Service, location_ids: Sequence[str], registered: Sequence[str]
) -> Iterator[dict[str, Tenant]]:
    """A Tenant per id; those in `registered` are registered with the app."""
    made: dict[str, Tenant] = {}
    try:
        for n, location_id in enumerate(location_ids, start=1):
            ghl = service.ghl.add_location(location_id, name=f"Client {n}")
            bucket: dict[str, Any] = {"id": BUCKET_ID + n, "name": "Cold Leads"}
            calltools = CallToolsSandbox(
                token=f"calltools-token-of-{location_id}",
                buckets=[bucket],
                id_offset=1_000_000 * n,
            ).start()
            made[location_id] = Tenant(ghl, calltools, BUCKET_ID + n)
        for location_id in registered:
            tenant = made[location_id]
            reply = service.admin("put", f"/locations/{location_id}", tenant.registration())
            assert reply.status_code == 201, reply.body
        yield made
    finally:
        for tenant in made.values():
            tenant.calltools.stop()
