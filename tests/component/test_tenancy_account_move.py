"""A location moved to another CallTools account (`PUT` with a new base URL or key): its rules'
buckets are resolved again in the new account, never taken from what the old account answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.helpers import ghl_event
from tests.support.service import Service, body_json
from tests.support.tenants import Tenant, hosted_tenants

MOVING, TARGET = "MovingLocation00000A1", "TargetAccount000000B2"


@pytest.fixture
def tenants(service: Service) -> Iterator[dict[str, Tenant]]:
    # TARGET is never registered: only its CallTools account is used, as MOVING's new one.
    with hosted_tenants(service, (MOVING, TARGET), registered=(MOVING,)) as made:
        yield made


def post(service: Service, tenant: Tenant, body: dict[str, Any]) -> None:
    body = {**body, "locationId": tenant.location_id}
    tenant.mirror(body)
    reply = service.post(body, mirror=False)
    assert reply.status_code == 200 and body_json(reply)["status"] == "accepted", reply.body


def test_a_location_moved_to_another_account_resolves_its_buckets_there(
    service: Service, tenants: dict[str, Tenant]
):
    moving, target = tenants[MOVING], tenants[TARGET]
    post(
        service,
        moving,
        ghl_event("ContactTagUpdate", id="BeforeTheMove0000001", tags=["cold lead"]),
    )
    service.drain()
    assert moving.members() == {"BeforeTheMove0000001"}

    moved = moving.registration() | {
        "calltools_api_base_url": target.calltools.base_url,
        "calltools_api_token": target.calltools.token,
    }
    reply = service.admin("put", f"/locations/{MOVING}", moved)
    assert reply.status_code == 200, reply.body

    post(
        service,
        moving,
        ghl_event("ContactTagUpdate", id="AfterTheMove00000001", tags=["cold lead"]),
    )
    service.drain()
    # Into the new account's own "Cold Leads" (another id than the old account's).
    assert target.members() == {"AfterTheMove00000001"}
    assert moving.members() == {"BeforeTheMove0000001"}
