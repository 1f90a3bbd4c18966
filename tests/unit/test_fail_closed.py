"""Fail closed (issue 10): only our location gets in, DND always wins, a refused removal is never
forgotten. Each test names the behaviour; each failed on the main before the fix."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chalicelib.adapters.aws.queue import wire_body
from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    Deferred,
    MaybeApplied,
    PermanentError,
    SyncError,
    TransientError,
)
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.rules import Rule
from chalicelib.domain.scope import Scope
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import FieldMapping, failed_alike, fingerprint, plan_sync
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.runtime.observability import logger
from chalicelib.runtime.settings import Settings
from chalicelib.services.consumer import BatchConsumer
from chalicelib.services.rule_book import RuleBook
from chalicelib.services.sync import MAX_DEFERRALS, ContactSync
from tests.support.fakes import FakeDedup, FakeQueue
from tests.support.helpers import (
    CONTACT_ID,
    LOCATION_ID,
    ghl_event,
    scripted_calltools,
    sqs_record,
    tagged,
)
from tests.support.worlds import World

BUCKET = 70412


def dnd_event(**changes: Any) -> dict[str, Any]:
    """GHL turns calls DND: the ContactDndUpdate, and GHL's own data."""
    return ghl_event("ContactDndUpdate", dnd=True, **changes)


# --- 1. tenancy ------------------------------------------------------------------------------------
def test_the_consumer_syncs_nothing_without_a_configured_location():
    world = World()
    unscoped = ContactSync(
        ghl=world.ghl,
        calltools=world.ct,
        store=world.store,
        rulebook=RuleBook([], world.ct),
        mapping=FieldMapping(),
        scope=Scope(location_id=""),
    )
    with pytest.raises(ConfigurationError, match="GHL_LOCATION_ID"):
        unscoped.sync(parse_marketplace_event(tagged("cold lead")))
    assert world.ct.call_count() == 0 and world.ghl.reads == 0


def test_a_queued_message_naming_no_location_is_synced_only_if_ghl_says_it_is_ours(world: World):
    """Messages queued before every event had to name our location: the intake no longer lets
    one in, so such a message is old; GHL, asked with our token, decides. Its snapshot is never
    trusted, and a contact GHL does not place in our location changes nothing."""
    body = tagged("cold lead")
    del body["locationId"]
    assert world.deliver(body) == "ignored"  # GHL's copy names no location either
    assert world.ct.call_count() == 0 and world.ghl.reads == 1
    world.mirror({**body, "locationId": "AnotherAgencysLocation1"})
    assert world.sync.sync(parse_marketplace_event(body)).result == "ignored"
    world.mirror({**body, "locationId": LOCATION_ID})
    assert world.sync.sync(parse_marketplace_event(body)).result == "synced"
    assert world.in_bucket()


def test_settings_name_the_missing_location():
    assert Settings(ghl_location_id="").scope_problem is not None
    assert Settings(ghl_location_id=LOCATION_ID).scope_problem is None


# --- 2. ordering never drops a change that takes a contact out --------------------------------------
def test_a_dnd_set_while_the_sync_reread_is_in_flight_takes_the_contact_out(world: World):
    """GHL serves the re-read, then the contact becomes DND, then our clock reads the time: the
    DND event is newer than the data yet older than our clock after the read."""
    start = utcnow()
    world.now = start
    read = world.ghl.get_contact

    def slow_read(cid: str) -> Contact | None:
        served = read(cid)
        world.now = start + timedelta(seconds=2)  # the reply took two seconds to reach us
        return served

    world.ghl.get_contact = slow_read  # type: ignore[method-assign,assignment]
    world.deliver(tagged("cold lead", at=start - timedelta(seconds=1)))
    assert world.in_bucket()
    world.deliver(dnd_event(at=start + timedelta(seconds=1)))
    assert not world.in_bucket()


def test_an_older_event_that_takes_the_contact_out_is_confirmed_with_ghl_not_dropped(world: World):
    """Our clock runs a minute ahead of GHL's: a re-read looks newer than a DND GHL made after
    serving it. The DND event looks stale, but a removal is never dropped for that: GHL is
    asked, and the contact leaves."""
    ghl_now = utcnow()
    world.now = ghl_now + timedelta(seconds=60)
    world.deliver(tagged("cold lead", at=ghl_now - timedelta(seconds=5)))
    assert world.in_bucket()
    reads = world.ghl.reads
    assert world.deliver(dnd_event(at=ghl_now + timedelta(seconds=10))) == "synced"
    assert world.ghl.reads == reads + 1 and not world.in_bucket()


def test_an_older_event_that_would_add_is_still_dropped_as_stale(world: World):
    world.deliver(tagged("other", at=utcnow() - timedelta(seconds=30)))
    assert world.deliver(tagged("cold lead", at=utcnow() - timedelta(seconds=90))) == "stale"
    assert not world.in_bucket()


# --- 3. a removal is retried until it happens --------------------------------------------------------
def test_every_removal_plan_shares_one_fingerprint_so_none_may_be_skipped_as_failed():
    world = World()
    resolved = RuleBook([Rule(tag="cold lead", bucket="Cold Leads")], world.ct).resolved()
    plans = []
    for cid in ("a", "b"):
        state = ContactState(contact_id=cid, calltools_id=1, buckets=frozenset({BUCKET}))
        gone = Contact(id=cid, tags=("other",), phone="+13125550147")
        plans.append((state, plan_sync(gone, resolved, state, FieldMapping())))
    assert fingerprint(plans[0][1]) == fingerprint(plans[1][1])  # why the old rule was wrong
    for state, plan in plans:
        failed = state.model_copy(
            update={"status": "failed", "failed_fingerprint": fingerprint(plan)}
        )
        assert not failed_alike(failed, plan)


def test_a_refused_removal_keeps_the_bucket_and_comes_back_until_it_happens(world: World):
    world.deliver(tagged("cold lead"))
    world.ct.fail_next["remove"] = PermanentError("CallTools PATCH: 400 locked")
    world.set_call_dnd()
    with pytest.raises(Deferred) as wait:
        world.deliver(dnd_event(), mirror=False)
    assert wait.value.seconds == 30
    state = world.store.get(CONTACT_ID)
    assert state is not None and BUCKET in state.buckets and state.status == "failed"
    assert state.lease_until is None and "removal" in (state.reason or "")
    # CallTools takes it now: the next delivery (the deferred copy) takes the contact out.
    world.deliver(dnd_event(), mirror=False)
    assert not world.in_bucket()


def test_a_removal_refused_for_a_day_is_dead_lettered_and_still_in_the_state(world: World):
    world.deliver(tagged("cold lead"))
    world.ct.fail_next["remove"] = PermanentError("CallTools PATCH: 400 locked")
    world.set_call_dnd()
    message = parse_marketplace_event(dnd_event()).model_copy(
        update={"removal_deferrals": MAX_DEFERRALS}
    )
    outcome = world.sync.sync(message)
    assert outcome.result == "failed" and "removal" in (outcome.reason or "")
    state = world.store.get(CONTACT_ID)
    assert state is not None and BUCKET in state.buckets  # the nightly run tries again


def test_membership_that_cannot_be_read_is_not_counted_as_removed():
    """A contact read that does not list buckets says nothing: the removal is not done."""
    writes = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "GET" and req.url.path == "/api/contacts/5/":
            return httpx.Response(200, json={"id": 5, "first_name": "Jo"})  # no `buckets`
        writes.append(req)
        return httpx.Response(400, json={"detail": "refused"})

    api = scripted_calltools(handler)
    with pytest.raises(TransientError, match="did not say which buckets"):
        api.set_bucket_membership(5, 9, False)
    configured = scripted_calltools(handler, "contactbuckets")
    with pytest.raises(SyncError, match=r"refused|did not say"):
        configured.set_bucket_membership(5, 9, False)


def test_a_lease_conflict_defers_the_message_instead_of_failing_a_receive():
    class Busy:
        def sync(self, message: SyncMessage) -> Any:
            raise ConcurrentUpdate("another worker holds this contact")

    consumer, queue = consumer_of(Busy())
    record = sqs_record(body("c1"))
    assert consumer.handle([record], lambda: 60_000.0) == {"batchItemFailures": []}
    assert queue.deleted == [record["receiptHandle"]] and len(queue.requeued) == 1
    copy, delay = queue.requeued[0]
    assert SyncMessage.model_validate_json(copy).deferrals == 1 and 0 < delay <= 60


# --- 4. smaller holes ----------------------------------------------------------------------------------
def test_a_ghl_refusal_of_the_reread_fails_at_once_with_its_reason(world: World):
    def refuse(cid: str) -> Contact | None:
        raise PermanentError("GHL GET contact: 422 contact id is malformed")

    world.ghl.get_contact = refuse  # type: ignore[method-assign,assignment]
    outcome = world.sync.sync(parse_marketplace_event(tagged("cold lead")))
    assert outcome.result == "failed" and "422" in (outcome.reason or "")


def test_a_lease_shorter_than_one_call_with_its_retries_is_refused_at_start():
    with pytest.raises(ValidationError, match="CONTACT_LEASE_SECONDS"):
        Settings(contact_lease_seconds=25, retry_budget_seconds=20, http_timeout_seconds=10)
    assert Settings(contact_lease_seconds=31, retry_budget_seconds=20, http_timeout_seconds=10)


@pytest.fixture
def world() -> World:
    return World()


# --- found by an adversarial review of the above ---------------------------------------------------
def consume(worker: Any, message: SyncMessage) -> tuple[FakeQueue, dict[str, Any]]:
    """One record carrying `message` through a consumer of `worker`: its queue and the record."""
    consumer, queue = consumer_of(worker)
    record = sqs_record(message.model_dump_json())
    consumer.handle([record], lambda: 60_000.0)
    return queue, record


def test_a_removal_on_a_fresh_worker_waits_out_a_calltools_outage_rather_than_failing():
    world = World()
    world.deliver(tagged("cold lead"))
    world.set_call_dnd()
    fresh = world.another_worker()  # a new container: its rules are not resolved yet

    def down(bucket: Any) -> Any:
        raise TransientError("CallTools answered 503")

    world.ct.resolve_bucket = down  # type: ignore[method-assign]
    queue, record = consume(fresh, parse_marketplace_event(dnd_event()))
    # Deferred, not a failed receive.
    assert queue.deleted == [record["receiptHandle"]] and len(queue.requeued) == 1


@pytest.mark.parametrize(
    "error", [PermanentError("GHL GET contact: 422"), TransientError("GHL answered 503")]
)
def test_a_signed_dnd_event_with_null_tags_takes_the_contact_out_though_ghl_is_down(
    world: World, error: Exception
):
    world.deliver(tagged("cold lead"))

    def fail(cid: str) -> Contact | None:
        raise error

    world.ghl.get_contact = fail  # type: ignore[method-assign,assignment]
    with contextlib.suppress(TransientError):  # GHL is retried later; the contact is out now
        world.sync.sync(parse_marketplace_event(dnd_event(tags=None)))
    assert not world.in_bucket()


def test_a_stale_delete_takes_the_contact_out_when_ghl_refuses_the_reread(world: World):
    ghl_now = utcnow()
    world.now = ghl_now + timedelta(seconds=60)  # our clock a minute ahead of GHL's
    world.deliver(tagged("cold lead", at=ghl_now - timedelta(seconds=5)))

    def refuse(cid: str) -> Contact | None:
        raise PermanentError("GHL GET contact: 400 Contact not found")

    world.ghl.get_contact = refuse  # type: ignore[method-assign,assignment]
    body = ghl_event("ContactDelete", at=ghl_now + timedelta(seconds=10))
    assert world.sync.sync(parse_marketplace_event(body)).result == "failed"  # with GHL's reason
    assert not world.in_bucket()
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.buckets == frozenset()


def test_a_refused_removal_while_recovering_a_lost_create_is_deferred(world: World):
    world.ct.create_takes_buckets = True
    twins = {world.made_in_calltools(BUCKET), world.made_in_calltools(BUCKET)}
    world.store.save(
        ContactState(
            contact_id=CONTACT_ID,
            pending_phone="+13125550147",
            pending_since=utcnow() - timedelta(hours=1),
            pending_buckets=frozenset({BUCKET}),
        )
    )
    world.ct.fail_next["remove"] = PermanentError("CallTools PATCH: 400 locked")
    with pytest.raises(Deferred):
        world.sync.sync(parse_marketplace_event(dnd_event()))
    state = world.store.get(CONTACT_ID)
    assert state is not None and BUCKET in state.pending_buckets  # still "maybe in": retried
    world.sync.sync(parse_marketplace_event(dnd_event()))
    assert not world.ct.bucket_of() & twins


def test_waits_for_a_lease_do_not_use_up_the_removal_budget(world: World):
    world.deliver(tagged("cold lead"))
    world.ct.fail_next["remove"] = PermanentError("CallTools PATCH: 400 locked")
    world.set_call_dnd()
    waited = parse_marketplace_event(dnd_event()).model_copy(update={"deferrals": 150})
    with pytest.raises(Deferred):
        world.sync.sync(waited)  # the first refusal of this removal: not the hundredth


def test_a_name_sqs_would_refuse_is_queued_escaped():
    body = tagged("cold lead", firstName="Ana\ud800\uffff")
    message = parse_marketplace_event(body)
    wire = wire_body(message)
    assert wire.isascii()
    assert SyncMessage.model_validate_json(wire).snapshot == message.snapshot


@pytest.mark.usefixtures("logs_on_stdout")
def test_a_logged_exception_is_masked(capsys: pytest.CaptureFixture[str]):
    try:
        raise ValueError("refused +13125550147 for jo.doe@example.com")
    except ValueError:
        logger.exception("write failed")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "ValueError" in text
    assert "+13125550147" not in text and "jo.doe@example.com" not in text


# --- a healthy message never walks to the DLQ (found by tracing the chaos run) ----------------------
class _Crash(BaseException):
    """The runtime dying mid-batch: not an Exception, so nothing in the consumer handles it."""


def test_records_done_before_a_crash_later_in_the_batch_are_already_deleted():
    class CrashOnSecond:
        def __init__(self) -> None:
            self.seen = 0

        def sync(self, message: SyncMessage) -> Any:
            self.seen += 1
            if self.seen == 2:
                raise _Crash
            return SyncOutcomeStub()

    consumer, queue = consumer_of(CrashOnSecond())
    records = [sqs_record(body(f"c{i}")) for i in range(3)]
    with pytest.raises(_Crash):
        consumer.handle(records, lambda: 60_000.0)
    # Only the record that finished left the queue; the crash charges a receive to the others.
    assert queue.deleted == [records[0]["receiptHandle"]]


def test_a_write_whose_answer_was_lost_waits_a_moment_instead_of_failing_a_receive():
    class Lost:
        def sync(self, message: SyncMessage) -> Any:
            raise MaybeApplied("calltools answered 502; it may have acted, so not resent here")

    consumer, queue = consumer_of(Lost())
    record = sqs_record(body("c1"))
    assert consumer.handle([record], lambda: 60_000.0) == {"batchItemFailures": []}
    assert queue.deleted == [record["receiptHandle"]] and len(queue.requeued) == 1


class SyncOutcomeStub:
    def as_dict(self) -> dict[str, Any]:
        return {"result": "synced", "contact_id": "c", "added": [], "removed": []}


def body(contact_id: str) -> str:
    message = SyncMessage(
        origin="workflow", contact_id=contact_id, location_id=LOCATION_ID, received_at=utcnow()
    )
    return message.model_dump_json()


def consumer_of(worker: Any) -> tuple[BatchConsumer, FakeQueue]:
    """The real consumer over a stand-in for the contact sync, and the queue it writes to."""
    queue = FakeQueue()
    return BatchConsumer(worker, FakeDedup(), queue), queue
