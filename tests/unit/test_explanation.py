"""The one-sentence explanation for each situation, and the admin route that serves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.explanation import NEVER_SEEN, explain
from chalicelib.domain.history import Decision
from chalicelib.domain.state import ContactState
from chalicelib.services.admin import AdminApi
from chalicelib.services.explain import ContactExplainer

T0 = datetime(2026, 11, 28, 14, 3, tzinfo=UTC)
NAMES = {70412: "Cold Leads", 70413: "Warm Leads"}
TOKEN = "Adm1n-Token-For-Tests"


def at(minutes: int, cause: str = "ContactTagUpdate", **changes: Any) -> Decision:
    fields: dict[str, Any] = {"result": "synced", **changes}
    return Decision(at=T0 + timedelta(minutes=minutes), cause=cause, **fields)


def test_never_seen():
    assert explain(None, NAMES) == NEVER_SEEN


def test_in_a_bucket_since_the_decision_that_added_it():
    state = ContactState(
        contact_id="c1",
        status="synced",
        buckets=frozenset({70412}),
        history=(at(0, added=(70412,)), at(5, "reconciliation", result="unchanged")),
    )
    assert explain(state, NAMES) == "In Cold Leads since 2026-11-28 14:03 UTC (ContactTagUpdate)."


def test_a_bucket_without_a_known_name_is_named_by_id_and_no_history_no_since():
    state = ContactState(contact_id="c1", status="synced", buckets=frozenset({99}))
    assert explain(state, NAMES) == "In bucket 99."


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("dnd", "DND for calls"),
        ("no_matching_tag", "no rule's tag"),
        ("no_dialable_phone", "no dialable phone"),
        ("deleted", "deleted in GHL"),
        ("removed_unconfirmed", "while GHL was unavailable"),
    ],
)
def test_each_exclusion_reason_since_its_first_decision(reason: str, words: str):
    history = (
        at(0, added=(70412,)),
        at(10, "ContactDndUpdate", removed=(70412,), exclusion=reason),
        at(20, "reconciliation", exclusion=reason, result="unchanged"),
    )
    state = ContactState(contact_id="c1", status="excluded", reason=reason, history=history)
    sentence = explain(state, NAMES)
    assert sentence.startswith("Out of every bucket: ") and words in sentence
    assert sentence.endswith(" since 2026-11-28 14:13 UTC (ContactDndUpdate).")


def test_a_failure_says_why_and_where_the_contact_is():
    failed = at(7, result="failed", reason="CallTools: number is not dialable")
    state = ContactState(
        contact_id="c1",
        status="failed",
        reason="CallTools: number is not dialable",
        history=(failed,),
    )
    assert explain(state, NAMES) == (
        "The last sync failed since 2026-11-28 14:10 UTC (ContactTagUpdate): "
        "CallTools: number is not dialable; in no bucket."
    )


def test_a_pending_add_or_create_is_said_before_anything_else():
    state = ContactState(
        contact_id="c1",
        status="synced",
        buckets=frozenset({70412}),
        pending_buckets=frozenset({70413}),
    )
    assert explain(state, NAMES).startswith("A write is pending: an add to Warm Leads")
    creating = ContactState(contact_id="c1", pending_phone="+13125550147", pending_since=T0)
    sentence = explain(creating, NAMES)
    assert sentence.startswith("A write is pending: a CallTools create sent at 2026-11-28 14:03")
    assert "555" not in sentence


# --- the route's checks ---------------------------------------------------------------------------
def api(states: dict[str, ContactState]) -> AdminApi:
    explainer = ContactExplainer(states.get, lambda: NAMES, clock=lambda: T0)
    return AdminApi(TOKEN, lambda: None, lambda: None, explainer=lambda: explainer)  # type: ignore[arg-type,return-value]


BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "x" * 65, "jane@example.com", "é"])
def test_a_contact_id_that_is_not_a_plain_id_is_400(bad: str):
    assert api({}).contact(BEARER, bad).status == 400


def test_an_unknown_contact_is_200_never_seen():
    reply = api({}).contact(BEARER, "unknown_1")
    assert reply.status == 200
    assert reply.body == {"contact_id": "unknown_1", "known": False, "explanation": NEVER_SEEN}


def test_the_contact_route_needs_the_token():
    assert api({}).contact({}, "c1").status == 401


def test_a_known_contact_shows_state_buckets_pending_lease_and_history_newest_first():
    state = ContactState(
        contact_id="c1",
        calltools_id=48,
        status="failed",
        reason="phone +13125550147 refused",
        buckets=frozenset({70412}),
        pending_buckets=frozenset({70413}),
        lease_until=T0 + timedelta(seconds=30),
        history=(at(0, added=(70412,)), at(1, result="failed", reason="x")),
    )
    body = api({"c1": state}).contact(BEARER, "c1").body
    assert body["calltools_id"] == 48 and body["buckets"] == [{"id": 70412, "name": "Cold Leads"}]
    assert body["pending"]["buckets"] == [{"id": 70413, "name": "Warm Leads"}]
    assert body["lease"]["held"] is True
    assert [d["result"] for d in body["history"]] == ["failed", "synced"]
    assert body["history"][1]["added"] == [{"id": 70412, "name": "Cold Leads"}]
    assert "3125550147" not in body["reason"]
