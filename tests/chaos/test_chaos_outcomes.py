"""Call outcomes under chaos (issue 14): contacts synced into the bucket, then agents'
dispositions of their calls come back as CallTools rest hooks delivered twice, out of order and
not at all, while GHL answers its contact writes (tags, notes, the DND PUT) with 429s and lost
replies, CallTools fails the record reads, and the consumer dies now and then around a GHL write
or an outcome state write. The hooks CallTools never sent are applied by the catch-up a run
queues (`POST /sync/trigger`).

The end state: exactly one note per disposition (found by its marker), every disposition's tag on
its contact, every do-not-call contact DND for calls in GHL and out of the bucket (the others still
in it), nothing dead-lettered, the stats agreeing, and never a contact PUT carrying `tags`.
CHAOS_SEED (default 7) picks the run's randomness as in test_chaos.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.outcomes import note_marker
from chalicelib.runtime import wiring
from tests.chaos import route_faults
from tests.chaos.kills import mortal_call, surviving_kills
from tests.support.helpers import ghl_event
from tests.support.service import Service, body_json

BUCKET = 70412
CONTACTS = int(os.environ.get("CHAOS_OUTCOME_CONTACTS", "30"))
SEED = int(os.environ.get("CHAOS_SEED", "7"))
DEADLINE = 120.0
SECRET = "chaos-hook-secret"
PLAIN = ("Interested", "No Answer", "Not Interested", "Sale", "Answering Machine")
DO_NOT_CALL = ("Do Not Call", "Do Not Call", "Wrong Number")  # contact DNC twice as often
DNC_SHARE = 0.3  # of the contacts, one of whose calls ends do-not-call
NEVER, TWICE = 0.15, 0.25  # of the records: hook never sent, sent twice (the rest once)
GHL_WRITES = (
    ("POST", r"/contacts/[^/]+/tags/?"),
    ("DELETE", r"/contacts/[^/]+/tags/?"),
    ("POST", r"/contacts/[^/]+/notes/?"),
    ("PUT", r"/contacts/[^/]+/?"),
)
CALLTOOLS_READS = (
    ("GET", r"/api/historicalcalldispositions/(\d+/)?"),
    ("GET", r"/api/calldispositions/\d+/"),
)
FAULT_RATE = 0.15
# The consumer dies now and then before or after a GHL write or an outcome state write (per call
# and side), so a write that happened may go unrecorded.
KILL_RATE = 0.02
KILL_POINTS = {
    "writer": ("add_tags", "add_note", "set_call_dnd", "notes"),
    "store": ("acquire", "save"),
}


@contextlib.contextmanager
def dying(service: Service, rng: random.Random, kills: dict[str, int]) -> Iterator[None]:
    sync = service.container.outcomes.sync
    holders = {"writer": sync._ghl, "store": sync._store}

    def mortal(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        return mortal_call(name, call, rng, kills, KILL_RATE)

    for holder, names in KILL_POINTS.items():
        for name in names:
            setattr(holders[holder], name, mortal(name, getattr(holders[holder], name)))
    try:
        yield
    finally:
        for holder, names in KILL_POINTS.items():
            for name in names:
                delattr(holders[holder], name)  # the class's method again


@dataclass(frozen=True)
class Call:
    ghl_id: str
    record: dict[str, Any]  # the historical call disposition, as its hook carries it
    disposition: str
    fate: str  # "never", "once" or "twice"

    @property
    def dnc(self) -> bool:
        return self.disposition in DO_NOT_CALL


def dispositions_of(rng: random.Random) -> list[str]:
    """One contact's calls, oldest first: one to three, one of them do-not-call now and then."""
    calls = [rng.choice(PLAIN) for _ in range(rng.choice((1, 2, 2, 3)))]
    if rng.random() < DNC_SHARE:
        calls[rng.randrange(len(calls))] = rng.choice(DO_NOT_CALL)
    return calls


def fate_of(rng: random.Random) -> str:
    draw = rng.random()
    return "never" if draw < NEVER else "twice" if draw < NEVER + TWICE else "once"


def out_of_order_share(delivered: list[Call]) -> float:
    """Deliveries that arrive after a later record of the same contact."""
    newest: dict[str, int] = {}
    late = 0
    for call in delivered:
        rid = call.record["id"]
        late += rid < newest.get(call.ghl_id, 0)
        newest[call.ghl_id] = max(rid, newest.get(call.ghl_id, 0))
    return late / len(delivered)


def post_hook(service: Service, record: dict[str, Any]) -> Any:
    return service.client.http.post(
        f"/webhook/calltools?token={SECRET}",
        headers={"Content-Type": "application/json"},
        body=json.dumps(record).encode(),
    )


def dead_letters(service: Service) -> list[dict[str, Any]]:
    dead = []
    while batch := service.dlq_messages():
        dead += batch
        for m in batch:
            service.container.sqs.delete_message(
                QueueUrl=service.resources.dlq_url, ReceiptHandle=m["ReceiptHandle"]
            )
    return dead


@pytest.fixture
def hooked(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The service with the CallTools hook's secret configured (a container built anew)."""
    monkeypatch.setenv("CALLTOOLS_WEBHOOK_SECRET", SECRET)
    service.container = wiring.reset()
    service.container.retry_policy.sleep = service.sleeps.append
    return service


def test_outcomes_under_chaos(hooked: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    service = hooked
    rng = random.Random(SEED)
    started = time.monotonic()
    monkeypatch.setattr(service.container.contact_sync._lease, "_length", timedelta(seconds=1))

    # 1. Contacts synced into the bucket (no faults yet).
    contacts = {f"oc{i:04d}": f"+1312555{i:04d}" for i in range(CONTACTS)}
    for cid, phone in contacts.items():
        event = ghl_event("ContactTagUpdate", id=cid, phone=phone, tags=["cold lead"], dnd=False)
        assert service.post(event).status_code == 200
    service.drain(deadline_seconds=DEADLINE)
    assert all(service.in_bucket(cid) for cid in contacts)

    # 2. Agents disposition calls, contacts interleaved; CallTools sends no hook by itself.
    plans = {cid: dispositions_of(rng) for cid in contacts}
    order = [cid for cid, names in plans.items() for _ in names]
    rng.shuffle(order)
    calls: list[Call] = []
    for cid in order:
        name = plans[cid].pop(0)
        ct_id = service.calltools_id(cid)
        assert ct_id is not None
        record = service.calltools.record_call(ct_id, name, deliver=False)
        calls.append(Call(cid, record, name, fate_of(rng)))
    # Each fate at least once, whatever the seed drew.
    calls[0] = Call(calls[0].ghl_id, calls[0].record, calls[0].disposition, "never")
    calls[1] = Call(calls[1].ghl_id, calls[1].record, calls[1].disposition, "twice")
    delivered = [c for c in calls for _ in range({"never": 0, "once": 1, "twice": 2}[c.fate])]
    rng.shuffle(delivered)

    # 3. Faults: GHL's contact writes 429 and lose replies; CallTools fails the record reads.
    ghl_plan = route_faults.install(service.ghl, GHL_WRITES)
    ct_plan = route_faults.install(service.calltools, CALLTOOLS_READS)
    # The first note and the first DND PUT are made but their replies lost, whatever the seed: the
    # retry must find the note by its marker, and resend the PUT.
    ghl_plan.script_route("POST", GHL_WRITES[2][1], ["lost_reply"])
    ghl_plan.script_route("PUT", GHL_WRITES[3][1], ["lost_reply"])
    service.ghl.set_fault_rate(FAULT_RATE, kinds=["429", "lost_reply"], seed=SEED - 3)
    service.calltools.set_fault_rate(
        FAULT_RATE, kinds=["429", "500_json", "502_html", "lost_reply"], seed=SEED - 4
    )
    # A lost reply outlasts the client's 1 s; GHL's rate window is 1 s here (see test_chaos.py).
    service.ghl.timeout_seconds = service.calltools.timeout_seconds = 1.5
    service.ghl.rate_limit = (1_000_000, 1.0)
    # A killed worker's outcome lease expires soon (the retry comes 1 s later, as after a
    # visibility timeout).
    monkeypatch.setattr(service.container.outcomes.sync, "_lease", timedelta(seconds=1))
    poller = service.poller(retry_delay_seconds=2)

    poller._handler = surviving_kills(service.invoke)
    kills: dict[str, int] = {}

    # 4. The hooks, then the catch-up for those never sent, all through the faults.
    with dying(service, rng, kills):
        for call in delivered:
            assert post_hook(service, call.record).status_code == 200
        poller.drain(deadline_seconds=DEADLINE)
        assert service.admin("post", "/sync/trigger", {"mode": "reconcile"}).status_code == 202
        poller.drain(deadline_seconds=DEADLINE)
    ghl_faults, ct_faults = dict(ghl_plan.by_route), dict(ct_plan.by_route)
    service.ghl.clear_faults()
    service.calltools.clear_faults()

    # Exactly one note per disposition, and no other note.
    for call in calls:
        marker = note_marker(call.record["id"])
        notes = [n for n in service.ghl.notes(call.ghl_id) if marker in n["body"]]
        assert len(notes) == 1, f"{call}: {len(notes)} notes"
    assert sum(len(service.ghl.notes(cid)) for cid in contacts) == len(calls)
    # Every disposition's tag on its contact.
    for call in calls:
        data = service.ghl.contact(call.ghl_id)
        assert data is not None
        assert f"calltools: {call.disposition.lower()}" in data["tags"], call
    # Do-not-call contacts: DND for calls in GHL, out of the bucket; the others still in it.
    dnc = {c.ghl_id for c in calls if c.dnc}
    for cid in contacts:
        data = service.ghl.contact(cid)
        assert data is not None
        call_dnd = data.get("dndSettings", {}).get("Call", {}).get("status")
        assert (call_dnd == "active") == (cid in dnc), (cid, data.get("dndSettings"))
    members = service.calltools.bucket_members(BUCKET)
    assert {cid for cid in contacts if service.calltools_id(cid) in members} == set(contacts) - dnc
    # Never a contact PUT with `tags` (GHL would replace them all).
    assert service.ghl.tag_replacements == 0
    # Nothing lost, nothing dead-lettered; the stats count every outcome applied.
    assert service.queue_depth() == 0
    dead = dead_letters(service)
    assert not dead, [
        (m["Body"], m.get("MessageAttributes", {}).get("failure_reason")) for m in dead
    ]
    outcomes = body_json(service.admin("get", "/sync/stats"))["outcomes"]
    assert outcomes["applied"] == len(calls), outcomes
    assert outcomes["unmapped"] == outcomes["unknown"] == outcomes["pending"] == 0, outcomes
    assert outcomes["checkpoint"] == max(c.record["id"] for c in calls), outcomes

    # The run was as rough as it claims.
    fates = {f: sum(c.fate == f for c in calls) for f in ("never", "once", "twice")}
    assert fates["never"] and fates["twice"] and dnc
    assert out_of_order_share(delivered) > 0
    assert {kind for _, kind in ghl_faults} == {"429", "lost_reply"}, ghl_faults
    assert ("POST " + GHL_WRITES[2][1], "lost_reply") in ghl_faults
    assert ct_faults, ct_faults
    print(
        json.dumps(
            {
                "seed": SEED,
                "contacts": CONTACTS,
                "dispositions": len(calls),
                "do_not_call_contacts": len(dnc),
                "fates": fates,
                "deliveries": len(delivered),
                "out_of_order_share": round(out_of_order_share(delivered), 3),
                "ghl_faults": {f"{r} {k}": n for (r, k), n in sorted(ghl_faults.items())},
                "calltools_faults": {f"{r} {k}": n for (r, k), n in sorted(ct_faults.items())},
                "kills": kills,
                "failed_invocations": poller.failed_invocations,
                "wall_seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
