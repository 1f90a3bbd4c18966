"""Runs per location (docs/locations.md): `/sync/trigger` and `/sync/stats` with a `location_id`,
and the daily schedule's one run per registered location, each with its own lock and checkpoint
(`loc#<id>#run#...`). The Chalice app under chalice.test, AWS in moto, GHL and CallTools as
sandboxes (tests/support/tenants.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.aws.runs import DynamoRunStore
from chalicelib.domain.keyspace import Keyspace
from tests.support.service import Service, body_json
from tests.support.tenants import Tenant, hosted_tenants

A_ID, B_ID = "RunsAcme000000000001", "RunsBeta000000000002"


@pytest.fixture
def tenants(service: Service) -> Iterator[dict[str, Tenant]]:
    with hosted_tenants(service, (A_ID, B_ID), registered=(A_ID, B_ID)) as made:
        for seed, tenant in enumerate(made.values(), start=1):
            tenant.generated = tenant.ghl.generate_contacts(30, seed=seed)
        yield made


def runs(service: Service, location_id: str | None) -> DynamoRunStore:
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    return DynamoRunStore(table, Keyspace(location_id))


def trigger(service: Service, **body: Any) -> Any:
    return service.admin("post", "/sync/trigger", body)


def test_a_trigger_for_one_location_walks_only_that_location(
    service: Service, tenants: dict[str, Tenant]
):
    a, b = tenants[A_ID], tenants[B_ID]
    reply = trigger(service, location_id=A_ID)
    assert reply.status_code == 202, reply.body
    started = body_json(reply)
    assert started["location_id"] == A_ID
    service.drain(deadline_seconds=60)
    assert a.members() == a.tagged() and len(a.members()) > 10
    assert b.members() == set() and not service.calltools.contacts()
    run = runs(service, A_ID).get(started["run_id"])
    assert run is not None and run.status == "finished"
    # The built-in location's run items are untouched: no run there, no lock.
    assert runs(service, None).last_run_id() is None
    assert runs(service, A_ID).active_run_id() is None

    stats = service.admin("get", f"/sync/stats?location_id={A_ID}")
    assert stats.status_code == 200
    shown = body_json(stats)
    assert shown["last_run"]["id"] == started["run_id"]
    assert shown["contacts"]["total"] == len(a.tagged())
    assert shown["contacts"]["in_bucket"] == {"Cold Leads": len(a.tagged())}
    builtin = body_json(service.admin("get", "/sync/stats"))
    assert builtin["last_run"] is None and builtin["contacts"]["total"] == 0


def test_each_location_has_its_own_run_lock(service: Service, tenants: dict[str, Tenant]):
    first = trigger(service, location_id=A_ID)
    assert first.status_code == 202
    again = trigger(service, location_id=A_ID)
    assert again.status_code == 409
    assert body_json(again)["active_run_id"] == body_json(first)["run_id"]
    assert trigger(service, location_id=B_ID).status_code == 202
    assert trigger(service).status_code == 202  # the built-in's lock is its own too
    service.drain(deadline_seconds=60)


@pytest.mark.parametrize(
    ("location_id", "status"),
    [("Unknown0000000000001", 404), ("bad#id", 400), (7, 400)],
)
def test_a_trigger_or_stats_for_no_active_location_is_refused(
    service: Service, tenants: dict[str, Tenant], location_id: Any, status: int
):
    assert trigger(service, location_id=location_id).status_code == status
    assert service.queue_depth() == 0
    if isinstance(location_id, str) and location_id.isalnum():
        reply = service.admin("get", f"/sync/stats?location_id={location_id}")
        assert reply.status_code == status


def test_a_deactivated_location_cannot_be_triggered(service: Service, tenants: dict[str, Tenant]):
    assert service.admin("delete", f"/locations/{A_ID}").status_code == 200
    assert trigger(service, location_id=A_ID).status_code == 404


def test_the_builtin_location_id_triggers_the_builtin_run(
    service: Service, tenants: dict[str, Tenant]
):
    from tests.support.helpers import LOCATION_ID

    reply = trigger(service, location_id=LOCATION_ID)
    assert reply.status_code == 202 and "location_id" not in body_json(reply)
    assert runs(service, None).active_run_id() == body_json(reply)["run_id"]


def test_the_schedule_starts_one_run_per_location(service: Service, tenants: dict[str, Tenant]):
    a, b = tenants[A_ID], tenants[B_ID]
    assert service.admin("put", f"/locations/{B_ID}", b.registration()).status_code == 200
    event = service.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    service.client.lambda_.invoke("daily_reconciliation", event)
    active = {loc: runs(service, loc).active_run_id() for loc in (None, A_ID, B_ID)}
    assert all(active.values()), active
    # A second tick while they run: no second run anywhere, and no error.
    service.client.lambda_.invoke("daily_reconciliation", event)
    assert {loc: runs(service, loc).active_run_id() for loc in active} == active
    service.drain(deadline_seconds=90)
    assert a.members() == a.tagged() and b.members() == b.tagged()
    for loc in (A_ID, B_ID):
        run = runs(service, loc).get(str(active[loc]))
        assert run is not None and run.status == "finished" and run.trigger == "schedule"
