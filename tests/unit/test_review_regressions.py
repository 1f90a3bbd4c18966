"""Regression tests for defects a review found on the real-time path (one test per scenario)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from chalicelib.adapters.calltools.api import CallToolsHttpApi
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import RetryPolicy, body_excerpt
from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConcurrentUpdate, ConfigurationError, Deferred, TransientError
from chalicelib.domain.rules import Rule
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event, parse_workflow_payload
from tests.support.helpers import (
    CONTACT_ID,
    LOCATION_ID,
    ago,
    ghl_event,
    scripted_calltools,
    tagged,
)
from tests.support.worlds import World


def test_call_only_dnd_is_not_undone_by_a_later_contact_update():
    """ContactUpdate carries `dnd` but no dndSettings: it cannot tell whether calls are DND."""
    w = World()
    w.deliver(tagged("cold lead"))
    call_dnd = ghl_event("ContactDndUpdate", dnd=False)  # dndSettings.Call active, dnd false
    w.deliver(call_dnd)
    assert not w.in_bucket()
    edit = ghl_event("ContactUpdate", firstName="Ave")
    w.ghl.contacts[CONTACT_ID] = w.ghl.contacts[CONTACT_ID].model_copy(update={"first_name": "Ave"})
    w.deliver(edit, mirror=False)  # GHL still has Call DND on
    assert not w.in_bucket()


def test_no_op_path_respects_a_live_lease():
    w = World()
    w.deliver(tagged("other"))
    state = w.store.get(CONTACT_ID)
    assert state is not None
    now = utcnow()
    w.store.acquire(state, "worker-a", now + timedelta(minutes=1), now)
    with pytest.raises(Deferred):
        w.deliver(tagged("other"))  # a no-op for us, but worker A is mid-change


def test_progress_before_a_failure_is_recorded():
    w = World([Rule(tag="cold lead", bucket="Cold Leads"), Rule(tag="hot", bucket="Hot")])
    w.ct.buckets[70500] = "Hot"
    original = w.ct.set_bucket_membership

    def second_bucket_fails(cid: int, bid: int, member: bool) -> None:
        if bid == 70500 and member:
            raise TransientError("CallTools answered 503")
        original(cid, bid, member)

    w.ct.set_bucket_membership = second_bucket_fails  # type: ignore[method-assign,assignment]
    with pytest.raises(TransientError):
        w.deliver(tagged("cold lead", "hot"))
    w.ct.set_bucket_membership = original  # type: ignore[method-assign]
    state = w.store.get(CONTACT_ID)
    assert state is not None and state.buckets == {70412} and state.lease_until is None
    assert state.pending_buckets == {70500}  # the failed add is unconfirmed, so still "maybe"
    w.deliver(ghl_event("ContactDndUpdate"))
    assert not w.ct.bucket_of(70412)


def test_contact_deleted_in_calltools_is_recreated_on_re_add():
    w = World()
    w.deliver(tagged("cold lead"))
    w.deliver(tagged("other"))
    state = w.store.get(CONTACT_ID)
    assert state is not None and state.calltools_id is not None
    del w.ct.contacts[state.calltools_id]
    w.deliver(tagged("cold lead"))
    assert w.in_bucket()


def test_reread_is_never_stale_under_clock_skew():
    w = World()
    ahead = utcnow() + timedelta(seconds=3)  # GHL's clock runs 3 s ahead of ours
    w.deliver(tagged("cold lead", at=ahead))
    w.ghl.contacts[CONTACT_ID] = Contact(id=CONTACT_ID, phone="+13125550147", tags=("other",))
    w.sync.sync(parse_workflow_payload({"contact_id": CONTACT_ID, "locationId": LOCATION_ID}))
    assert not w.in_bucket()


def test_far_future_timestamp_freezes_a_contact_for_minutes_at_most():
    w = World()
    w.deliver(tagged("cold lead", at=utcnow() + timedelta(days=365)))
    # Clamped to now + 5 min: an event six minutes from now already counts as newer.
    assert w.deliver(tagged("other", at=utcnow() + timedelta(minutes=6))) != "stale"
    assert not w.in_bucket()


def test_auto_probe_moves_past_a_refused_candidate():
    members: set[int] = set()

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if req.method == "GET" and path == "/api/contacts/5/":
            return httpx.Response(200, json={"id": 5, "buckets": sorted(members)})
        if req.method == "PATCH" and path == "/api/contacts/5/":
            return httpx.Response(200, json={"id": 5})  # add_buckets silently ignored
        if req.method == "PATCH" and path == "/api/buckets/9/":
            return httpx.Response(405, json={"detail": 'Method "PATCH" not allowed.'})
        if req.method == "POST" and path == "/api/contactbuckets/":
            members.add(9)
            return httpx.Response(201, json={"id": 1, "contact": 5, "bucket": 9})
        return httpx.Response(404)

    api = scripted_calltools(handler)
    api.set_bucket_membership(5, 9, True)
    assert 9 in members and api.bucket_method == "contactbuckets"


def test_existing_membership_does_not_lock_in_a_method():
    members = {5: {9}, 6: set[int]()}

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        for cid in (5, 6):
            if req.method == "GET" and path == f"/api/contacts/{cid}/":
                return httpx.Response(200, json={"id": cid, "buckets": sorted(members[cid])})
            if req.method == "PATCH" and path == f"/api/contacts/{cid}/":
                return httpx.Response(200, json={"id": cid})  # add_buckets ignored
        if path == "/api/buckets/9/":
            for c in json.loads(req.content).get("add_contacts", []):
                members[c].add(9)
            return httpx.Response(200, json={"id": 9})
        return httpx.Response(404)

    api = scripted_calltools(handler)
    api.set_bucket_membership(5, 9, True)  # already a member: proves nothing
    assert api.bucket_method is None
    api.set_bucket_membership(6, 9, True)
    assert 9 in members[6] and api.bucket_method == "bucket_patch"


def test_truncated_phone_search_is_an_error_not_a_miss():
    def handler(req: httpx.Request) -> httpx.Response:
        page = int(req.url.params["page"])
        rows = [{"id": page * 1000 + i, "mobile_phone_number": "+13125550100"} for i in range(100)]
        return httpx.Response(200, json={"count": 10_000, "next": "more", "results": rows})

    with pytest.raises(ConfigurationError):
        scripted_calltools(handler).find_contacts_by_phone("+13125550147")


def test_error_excerpts_are_redacted_before_they_are_cut():
    body = "x" * 281 + " avery.lindqvist@example.com +13125550147"
    excerpt = body_excerpt(httpx.Response(400, text=body))
    assert "avery.lindqvist" not in excerpt and "1312555" not in excerpt


def test_huge_retry_after_gives_up_without_sleeping():
    slept: list[float] = []
    api = CallToolsHttpApi(
        "https://x/api/",
        "t",
        options=ClientOptions(
            transport=httpx.MockTransport(
                lambda _: httpx.Response(429, headers={"Retry-After": "86400"})
            ),
            retry=RetryPolicy(sleep=slept.append),
            max_rps=0,
        ),
    )
    with pytest.raises(TransientError):
        api.update_contact(1, {"first_name": "A"})
    assert not slept


def test_message_without_snapshot_is_not_stale_checked_against_event_time():
    w = World()
    msg = parse_marketplace_event({**tagged("cold lead"), "timestamp": None})
    assert msg.snapshot is None
    w.ghl.contacts[CONTACT_ID] = Contact(id=CONTACT_ID, phone="+13125550147", tags=("cold lead",))
    assert w.sync.sync(msg).result == "synced"


def test_a_worker_whose_lease_ran_out_after_its_create_adds_nothing():
    """Worker A creates the contact (the create carries no bucket), then stalls past its lease;
    worker B handles a DND meanwhile. A must not add the contact to the bucket when it resumes."""
    a = World()
    b = a.another_worker()
    create = a.ct.create_contact

    def create_then_stall(fields: Any, buckets: frozenset[int] = frozenset()) -> Any:
        created = create(fields, buckets)
        a.now = utcnow() + timedelta(minutes=3)  # A's lease has run out
        a.set_call_dnd()
        dnd = parse_marketplace_event(ghl_event("ContactDndUpdate", dnd=True))
        assert b.sync(dnd).result == "synced"
        return created

    a.ct.create_contact = create_then_stall  # type: ignore[method-assign]
    with pytest.raises(ConcurrentUpdate):
        a.deliver(tagged("cold lead"))
    assert not a.ct.bucket_of() and a.ct.call_count("add") == 0
    assert len(a.ct.contacts) == 1


def test_an_add_that_runs_long_keeps_the_contact_from_another_worker():
    """The lease is renewed before each add: worker B, arriving while A's add is still being
    retried past A's original lease, must wait rather than take the contact out under A."""
    a = World()
    b = a.another_worker()
    started = utcnow()
    a.now = started
    add, create = a.ct.set_bucket_membership, a.ct.create_contact
    refused: list[Exception] = []

    def slow_create(fields: Any, buckets: frozenset[int] = frozenset()) -> Any:
        a.now = started + timedelta(seconds=110)  # most of the lease taken at the start is gone
        return create(fields, buckets)

    def slow_add(cid: int, bid: int, member: bool) -> None:
        if not member or refused:
            return add(cid, bid, member)
        a.now = started + timedelta(seconds=130)  # past the lease taken at the start
        a.set_call_dnd()
        try:
            b.sync(parse_marketplace_event(ghl_event("ContactDndUpdate", dnd=True)))
        except Deferred as exc:
            refused.append(exc)
        add(cid, bid, member)

    a.ct.create_contact = slow_create  # type: ignore[method-assign]
    a.ct.set_bucket_membership = slow_add  # type: ignore[method-assign,assignment]
    assert a.deliver(tagged("cold lead", at=ago(1))) == "synced"
    assert len(refused) == 1  # B waited; its retry (below) takes the contact out
    assert a.in_bucket()  # A's add went through, under its renewed lease
    a.ct.set_bucket_membership = add  # type: ignore[method-assign]
    retry = b.sync(parse_marketplace_event(ghl_event("ContactDndUpdate", dnd=True)))
    assert retry.result == "synced" and retry.removed == (70412,)
    # The end state that matters: GHL says DND, so the contact is out of the dialler.
    assert not a.in_bucket() and not a.ct.bucket_of()
    state = a.store.get(CONTACT_ID)
    assert state is not None and state.reason == "dnd" and not state.maybe_in
