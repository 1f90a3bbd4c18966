"""Daily reconciliation through the real wiring: admin routes (chalice.test.Client), SQS and
DynamoDB in moto, GHL and CallTools as sandbox servers."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.aws.state import to_item
from chalicelib.domain.errors import TransientError
from chalicelib.domain.phone import to_e164
from chalicelib.services.reconcile import WalkLimits
from sandbox.seed import synced_state
from tests.support.service import Service, body_json

BUCKET = 70412


def seed_in_sync(service: Service, ids: list[str]) -> None:
    """Make CallTools and the state table look as if every contact had already been synced."""
    c = service.container
    rules = c.rulebook.resolved()
    table = c.dynamodb.Table(c.settings.state.table_name)
    with table.batch_writer() as batch:
        for cid in ids:
            state = synced_state(service.ghl, service.calltools, cid, rules, c.field_mapping)
            if state is not None:
                batch.put_item(Item=to_item(state, 1))


def desired_members(service: Service) -> set[str]:
    """GHL contact ids that belong in the bucket according to GHL's data."""
    wanted = set()
    for cid in service.ghl_ids:
        data = service.ghl.contact(cid)
        if data is None:
            continue
        tags = {t.strip().casefold() for t in data.get("tags", [])}
        dnd = (
            data.get("dnd") or data.get("dndSettings", {}).get("Call", {}).get("status") == "active"
        )
        if "cold lead" in tags and not dnd and to_e164(data.get("phone")):
            wanted.add(cid)
    return wanted


def actual_members(service: Service) -> set[str]:
    members = service.calltools.bucket_members(BUCKET)
    return {
        str(c["ghl_contact_id"])
        for c in service.calltools.contacts()
        if c["id"] in members and c.get("ghl_contact_id")
    }


def run_record(service: Service, run_id: str) -> Any:
    run = service.container.run_store.get(run_id)
    assert run is not None
    return run


PAGE = 100  # small pages, so a few hundred contacts make a multi-page walk


@pytest.fixture
def world(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    service.ghl_ids = service.ghl.generate_contacts(250)
    monkeypatch.setattr(service.container.reconciler.walk, "limits", WalkLimits(PAGE))
    return service


def trigger(service: Service, mode: str = "reconcile") -> str:
    reply = service.admin("post", "/sync/trigger", {"mode": mode})
    assert reply.status_code == 202, reply.body
    run_id: str = body_json(reply)["run_id"]
    return run_id


# --- admin auth ----------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "wrong"])
def test_admin_routes_need_the_bearer_token(service: Service, token: str | None):
    assert service.admin("post", "/sync/trigger", {}, token=token).status_code == 401
    assert service.admin("get", "/sync/stats", token=token).status_code == 401
    assert service.queue_depth() == 0


def test_admin_routes_are_closed_without_a_configured_token(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    from chalicelib.runtime import wiring

    monkeypatch.setenv("ADMIN_API_TOKEN", "")
    wiring.reset()
    assert service.admin("post", "/sync/trigger", {}, token="").status_code == 503
    assert service.admin("get", "/sync/stats", token="anything").status_code == 503


def test_bad_trigger_body_is_400(service: Service):
    assert service.admin("post", "/sync/trigger", {"mode": "everything"}).status_code == 400


# --- runs ----------------------------------------------------------------------------------------
def test_first_run_imports_every_tagged_contact(world: Service):
    run_id = trigger(world, "backfill")
    world.drain(deadline_seconds=120)
    run = run_record(world, run_id)
    assert run.status == "finished" and run.pages == math.ceil(run.seen / PAGE) >= 2
    assert actual_members(world) == desired_members(world)
    assert len(desired_members(world)) > 0.6 * 250  # most generated contacts are tagged


def test_trigger_while_active_is_409_with_the_active_id(world: Service):
    run_id = trigger(world)
    reply = world.admin("post", "/sync/trigger", {})
    assert reply.status_code == 409 and body_json(reply)["active_run_id"] == run_id


def test_in_sync_contacts_cost_nothing_and_changed_ones_are_enqueued(service: Service):
    """Acceptance: 10,000 tagged contacts in sync, 100 changed: at most 20 searches, exactly 100
    enqueued. (Beyond 10,000, where page-number paging would stop.)"""
    ids = service.ghl.generate_contacts(10_000)
    service.ghl_ids = ids
    seed_in_sync(service, ids)
    tagged = [cid for cid in ids if "cold lead" in service.ghl.contact(cid)["tags"]]  # type: ignore[index]
    changed = tagged[:100]
    for cid in changed:
        service.ghl.upsert_contact({"id": cid, "companyName": "Changed Co"})
    service.ghl.reset_calls()
    service.calltools.reset_calls()

    run_id = trigger(service)
    service.drain(deadline_seconds=300)
    run = run_record(service, run_id)
    searches = service.ghl.call_count("POST", "/contacts/search")
    assert len(tagged) == 10_000 and searches <= math.ceil(10_000 / 500)
    assert run.enqueued == 100 and run.removed == 0 and run.seen == len(tagged)
    assert run.api_calls["ghl"] == searches
    assert service.calltools.call_count("POST") == 0  # nothing created
    assert actual_members(service) == desired_members(service)


def test_contacts_that_left_are_removed(world: Service):
    trigger(world, "backfill")
    world.drain(deadline_seconds=120)
    members = sorted(actual_members(world))
    gone, untagged = members[0], members[1]
    world.ghl.delete_contact(gone)  # no webhook arrived for either change
    world.ghl.set_tags(untagged, ["facebook lead"])
    run_id = trigger(world)
    world.drain(deadline_seconds=120)
    run = run_record(world, run_id)
    assert run.removed == 2
    assert gone not in actual_members(world) and untagged not in actual_members(world)
    assert actual_members(world) == desired_members(world)


def test_a_create_never_answered_is_found_and_removed_when_the_contact_left(world: Service):
    """State knows only that a create went out (the reply was lost, then the worker died); GHL
    untags the contact with no webhook. The run's "left" check must still take it out."""
    c = world.container
    cid = sorted(desired_members(world))[0]
    synced = synced_state(world.ghl, world.calltools, cid, c.rulebook.resolved(), c.field_mapping)
    data = world.ghl.contact(cid)
    assert synced is not None and BUCKET in synced.buckets and data is not None
    pending = synced.model_copy(
        update={
            "calltools_id": None,
            "buckets": frozenset(),
            "pending_buckets": synced.buckets,
            "pending_phone": to_e164(data["phone"]),
            "status": "new",
        }
    )
    c.dynamodb.Table(c.settings.state.table_name).put_item(Item=to_item(pending, 1))
    assert cid in actual_members(world)
    world.ghl.set_tags(cid, ["facebook lead"])
    run_id = trigger(world)
    world.drain(deadline_seconds=120)
    assert run_record(world, run_id).removed == 1
    assert cid not in actual_members(world)
    state = c.state_store.get(cid)
    assert state is not None and state.calltools_id == synced.calltools_id
    assert not state.pending_buckets and state.pending_phone is None


def test_interrupted_run_resumes_at_the_next_page(world: Service, monkeypatch: pytest.MonkeyPatch):
    """Each step walks one page; page 3's search fails past its retries; the run resumes there."""
    reconciler = world.container.reconciler
    monkeypatch.setattr(reconciler, "timings", replace(reconciler.timings, step_seconds=0.0))
    monkeypatch.setattr(reconciler.walk, "limits", WalkLimits(50))
    run_id = trigger(world, "backfill")
    ample = lambda: 60_000.0  # noqa: E731
    for _ in range(2):
        reconciler.step(run_id, ample, 0)
    assert run_record(world, run_id).pages == 2
    world.ghl.reset_calls()
    world.ghl.script_faults(["502_html"] * 5)  # every attempt of page 3
    with pytest.raises(TransientError):
        reconciler.step(run_id, ample, 0)
    run = run_record(world, run_id)
    assert run.pages == 2 and run.lease_until is None and run.error
    while run_record(world, run_id).status == "running":
        reconciler.step(run_id, ample, 0)
    run = run_record(world, run_id)
    assert run.pages >= math.ceil(run.seen / 50) >= 4
    # The failed page was tried 5 times; no page before it was searched again.
    assert world.ghl.call_count("POST", "/contacts/search") == 5 + (run.pages - 2)
    world.drain(deadline_seconds=120)
    assert actual_members(world) == desired_members(world)


def test_stats_agree_with_calltools(world: Service):
    trigger(world, "backfill")
    world.drain(deadline_seconds=120)
    reply = world.admin("get", "/sync/stats")
    assert reply.status_code == 200
    stats = body_json(reply)
    assert stats["contacts"]["in_bucket"]["Cold Leads"] == len(
        world.calltools.bucket_members(BUCKET)
    )
    assert stats["last_run"]["status"] == "finished" and stats["current_run"] is None
    assert stats["dlq_depth"] == 0
    assert {"total", "failed", "dnd_excluded", "last_webhook_at"} <= set(stats["contacts"])
    assert {
        "id",
        "started_at",
        "finished_at",
        "pages",
        "seen",
        "enqueued",
        "removed",
        "api_calls",
    } <= set(stats["last_run"])


def test_walk_goes_past_ten_thousand_contacts(service: Service):
    """searchAfter paging reaches contact 10,001, where page-number paging stops (GHL §4)."""
    ids = service.ghl.generate_contacts(10_001)
    for cid in ids:
        service.ghl.set_dnd(cid, True)  # nothing to enqueue: this test is about the walk
    run_id = trigger(service)
    service.drain(deadline_seconds=300)
    run = run_record(service, run_id)
    assert run.status == "finished" and run.seen == 10_001 and run.enqueued == 0
    assert service.ghl.call_count("POST", "/contacts/search") == math.ceil(10_001 / 500)
    assert run.expected == 10_001


def test_the_schedule_starts_a_run_and_skips_when_one_is_active(world: Service):
    event = world.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    world.client.lambda_.invoke("daily_reconciliation", event)
    active = world.container.run_store.active_run_id()
    assert active is not None and run_record(world, active).trigger == "schedule"
    world.client.lambda_.invoke("daily_reconciliation", event)  # no error, no second run
    assert world.container.run_store.active_run_id() == active
