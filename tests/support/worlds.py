"""The sync test world: one GHL contact, in-memory accounts and state, any number of workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.contact import contact_from_ghl
from chalicelib.domain.rules import Rule
from chalicelib.domain.scope import Scope
from chalicelib.domain.sync_plan import FieldMapping
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.services.rule_book import RuleBook
from chalicelib.services.sync import ContactSync, SyncTimings
from tests.support.fakes import FakeCallTools, FakeGhl, FakeStateStore
from tests.support.helpers import CONTACT_ID, LOCATION_ID, GhlMirror


class World:
    def __init__(
        self, rules: list[Rule] | None = None, *, snapshot_trust_seconds: float = 60.0
    ) -> None:
        self.ghl = FakeGhl()
        self.ct = FakeCallTools()
        self.store = FakeStateStore()
        self.now: datetime | None = None  # real time unless a test sets it
        self._rules = rules or [Rule(tag="cold lead", bucket="Cold Leads")]
        self._snapshot_trust_seconds = snapshot_trust_seconds
        self.sync = self.another_worker()
        self.mirror = GhlMirror(
            lambda c: self.ghl.contacts.__setitem__(c["id"], contact_from_ghl(c)),
            lambda cid: self.ghl.contacts.pop(cid, None),
        )

    def another_worker(self) -> ContactSync:
        """A consumer of its own (its own lease owner) over the same accounts, state and clock."""
        return ContactSync(
            ghl=self.ghl,
            calltools=self.ct,
            store=self.store,
            rulebook=RuleBook(self._rules, self.ct),
            mapping=FieldMapping(),
            scope=Scope(LOCATION_ID),
            timings=SyncTimings(snapshot_trust_seconds=self._snapshot_trust_seconds),
            clock=lambda: self.now or utcnow(),
        )

    def made_in_calltools(self, *buckets: int) -> int:
        """A CallTools contact for our GHL contact, in `buckets`, made behind the sync's back (a
        lost request applied late, or a twin); returns its id."""
        fields = {"mobile_phone_number": "+13125550147", "ghl_contact_id": CONTACT_ID}
        return self.ct.create_contact(fields, frozenset(buckets)).id

    def set_call_dnd(self) -> None:
        """GHL turns calls DND for the contact (a ContactDndUpdate follows, or not)."""
        self.ghl.contacts[CONTACT_ID] = self.ghl.contacts[CONTACT_ID].model_copy(
            update={"dnd_calls": True}
        )

    def deliver(self, body: dict[str, Any], *, mirror: bool = True) -> str:
        if mirror:
            self.mirror(body)
        return self.sync.sync(parse_marketplace_event(body)).result

    def in_bucket(self) -> bool:
        state = self.store.get(CONTACT_ID)
        return bool(state and state.calltools_id in self.ct.bucket_of())


def sync_over_fakes(ct: FakeCallTools) -> ContactSync:
    """A ContactSync of the default rule over in-memory GHL and state, writing to `ct`: the
    consumer's tests drive it through BatchConsumer."""
    return ContactSync(
        ghl=FakeGhl(),
        calltools=ct,
        store=FakeStateStore(),
        rulebook=RuleBook([Rule(tag="cold lead", bucket="Cold Leads")], ct),
        mapping=FieldMapping(),
        scope=Scope(LOCATION_ID),
    )
