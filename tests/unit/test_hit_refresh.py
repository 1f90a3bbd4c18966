"""Stale reconciliation hits are refreshed by reading their search page again, in bulk: never one
GHL read per contact, and never an add from data older than the trust window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import TransientError
from chalicelib.domain.messages import HitPage, SyncMessage
from chalicelib.domain.rules import Rule
from chalicelib.domain.scope import Scope
from chalicelib.domain.sync_plan import FieldMapping
from chalicelib.ports import SearchPage
from chalicelib.services.rule_book import RuleBook
from chalicelib.services.sync import ContactSync, SyncTimings
from tests.support.fakes import FakeCallTools, FakeGhl, FakeStateStore
from tests.support.helpers import LOCATION_ID

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
UPDATED = "2026-11-29T11:00:00.000Z"
TAG = "cold lead"


def person(i: int, **changes: Any) -> Contact:
    fields: dict[str, Any] = {
        "id": f"c{i:03d}",
        "location_id": LOCATION_ID,
        "phone": f"+1312555{i:04d}",
        "tags": (TAG,),
        "dnd_known": True,
    }
    return Contact(**{**fields, **changes})


class PageSearch:
    """GHL's tag search over FakeGhl's contacts, in id order, counting its calls."""

    def __init__(self, ghl: FakeGhl) -> None:
        self.ghl = ghl
        self.calls = 0
        self.down = False  # answers 429, as GHL over its limit

    def search_contacts(
        self, location_id: str, tag: str, search_after: list[Any] | None, page_limit: int = 500
    ) -> SearchPage:
        self.calls += 1
        if self.down:
            raise TransientError("GHL answered 429")
        rows = sorted((c for c in self.ghl.contacts.values() if tag in c.tags), key=lambda c: c.id)
        after = search_after[1] if search_after else ""
        page = [c for c in rows if c.id > after][:page_limit]
        return SearchPage(contacts=[(c, UPDATED) for c in page], next_cursor=None, total=None)


class Setup:
    def __init__(self, people: list[Contact]) -> None:
        self.ghl, self.ct, self.store = FakeGhl(), FakeCallTools(), FakeStateStore()
        self.ghl.contacts = {c.id: c for c in people}
        self.search = PageSearch(self.ghl)
        self.now = T0
        self.sync = ContactSync(
            ghl=self.ghl,
            calltools=self.ct,
            store=self.store,
            rulebook=RuleBook([Rule(tag=TAG, bucket="Cold Leads")], self.ct),
            mapping=FieldMapping(),
            scope=Scope(LOCATION_ID),
            timings=SyncTimings(snapshot_trust_seconds=60),
            clock=lambda: self.now,
            search=self.search,
        )

    def hit(self, contact: Contact, read_at: datetime) -> SyncMessage:
        return SyncMessage(
            origin="reconciliation",
            contact_id=contact.id,
            location_id=LOCATION_ID,
            event_time=datetime(2026, 11, 29, 11, tzinfo=UTC),
            snapshot=contact,
            received_at=read_at,
            page=HitPage(tag=TAG, after=None, size=500),
        )


def test_stale_hits_of_one_page_cost_one_search_and_no_read_each():
    people = [person(i) for i in range(20)]
    w = Setup(people)
    w.now = T0 + timedelta(minutes=5)  # every hit waited five minutes
    outcomes = [w.sync.sync(w.hit(c, T0)) for c in people]
    assert [o.result for o in outcomes] == ["synced"] * 20
    assert all(o.added == (70412,) for o in outcomes)
    assert w.search.calls == 1 and w.ghl.reads == 0


def test_a_refreshed_page_that_says_dnd_adds_nothing():
    """The search said the contact was fine; by the time its hit was taken, calls were DND."""
    first = person(1)
    w = Setup([first])
    w.ghl.contacts[first.id] = person(1, dnd_calls=True)
    w.now = T0 + timedelta(minutes=5)
    outcome = w.sync.sync(w.hit(first, T0))
    assert outcome.added == () and w.ct.call_count("create_contact") == 0
    assert w.search.calls == 1 and w.ghl.reads == 0


def test_a_contact_gone_from_its_page_is_asked_for_alone():
    first = person(1)
    w = Setup([first])
    w.ghl.contacts[first.id] = person(1, tags=())  # untagged since the walk
    w.now = T0 + timedelta(minutes=5)
    outcome = w.sync.sync(w.hit(first, T0))
    assert outcome.added == () and w.ghl.reads == 1


def test_a_fresh_hit_needs_neither_search_nor_read():
    first = person(1)
    w = Setup([first])
    w.now = T0 + timedelta(seconds=20)
    assert w.sync.sync(w.hit(first, T0)).added == (70412,)
    assert w.search.calls == 0 and w.ghl.reads == 0


def test_a_page_read_long_ago_is_read_again():
    people = [person(1), person(2)]
    w = Setup(people)
    w.now = T0 + timedelta(minutes=5)
    w.sync.sync(w.hit(people[0], T0))
    w.now += timedelta(seconds=31)  # past half the trust window: the kept page is too old
    w.sync.sync(w.hit(people[1], T0))
    assert w.search.calls == 2 and w.ghl.reads == 0


def test_a_stale_hit_that_removes_never_waits_for_ghl():
    """Calls became DND before the walk: the hit takes the contact out as read, even with GHL's
    search refusing (no refresh is needed to remove)."""
    first = person(1)
    w = Setup([first])
    w.sync.sync(w.hit(first, T0))  # in the bucket
    w.search.down = True
    w.now = T0 + timedelta(minutes=5)
    dnd = person(1, dnd_calls=True)
    removal = w.hit(dnd, T0 + timedelta(seconds=1)).model_copy(
        update={"event_time": datetime(2026, 11, 29, 11, 30, tzinfo=UTC)}
    )
    outcome = w.sync.sync(removal)
    assert outcome.removed == (70412,) and w.search.calls == 0 and w.ghl.reads == 0


def test_a_page_that_cannot_be_read_leaves_the_hit_to_a_read_of_its_own():
    first = person(1)
    w = Setup([first])
    w.search.down = True
    w.now = T0 + timedelta(minutes=5)
    assert w.sync.sync(w.hit(first, T0)).added == (70412,)
    assert w.search.calls == 1 and w.ghl.reads == 1
