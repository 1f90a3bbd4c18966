"""Black box, issue 14: call outcomes flow back from CallTools to GHL on the local stack.

An agent's disposition is played by the sandbox CallTools (`POST /_sandbox/calls`), which posts it
to the subscribed hook; what GHL then holds is read from the sandbox GHL. HTTP only: the stack's
routes, the sandboxes' APIs and their /_sandbox/ control endpoints.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.blackbox.stack import ROOT, Stack, wait_for
from tests.support.helpers import Signer, tagged

GHL_VERSION = "2021-07-28"
# "Within seconds": the hook → tag and note deadline, with room for a slow CI machine.
APPLIED_WITHIN = 10.0
SETTLED_WITHIN = 20.0


# --- the sandboxes, over HTTP ----------------------------------------------------------------
def hook_url(stack: Stack, token: str | None = "") -> str:
    url = stack.info["url"] + "/webhook/calltools"
    if token == "":
        token = stack.info["calltools_webhook_secret"]
    return url if token is None else f"{url}?token={token}"


def send_hook(stack: Stack, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(kwargs.pop("url", hook_url(stack)), json=body, timeout=10, **kwargs)


def place_call(stack: Stack, ct_id: int, disposition: str, **options: Any) -> dict[str, Any]:
    """An agent dispositions a call to CallTools contact `ct_id` (the sandbox posts the hook)."""
    body = {"contact": ct_id, "disposition": disposition, **options}
    reply = httpx.post(f"{stack.calltools_admin}/_sandbox/calls", json=body, timeout=5)
    assert reply.status_code == 201, reply.text
    record: dict[str, Any] = reply.json()
    return record


def ghl_contact(stack: Stack, ghl_id: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.info['ghl_url']}/_sandbox/contacts/{ghl_id}", timeout=5)
    contact: dict[str, Any] = reply.json()["contact"]
    return contact


def notes(stack: Stack, ghl_id: str) -> list[dict[str, Any]]:
    """The contact's notes, through GHL's own API."""
    headers = {"Authorization": f"Bearer {stack.info['ghl_token']}", "Version": GHL_VERSION}
    reply = httpx.get(f"{stack.info['ghl_url']}/contacts/{ghl_id}/notes", headers=headers)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["notes"]
    return found


def api_calls(base: str) -> list[dict[str, Any]]:
    """A sandbox's request log (its API requests, not its /_sandbox/ ones), oldest first."""
    calls: list[dict[str, Any]] = httpx.get(f"{base}/_sandbox/calls", timeout=5).json()["calls"]
    return calls


def ghl_writes_to(stack: Stack, ghl_id: str) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in api_calls(stack.info["ghl_url"])
        if c["method"] != "GET" and f"/contacts/{ghl_id}" in c["path"]
    ]


def echoes_delivered(stack: Stack, ghl_id: str, kind: str = "ContactTagUpdate") -> int:
    sent = httpx.get(f"{stack.info['ghl_url']}/_sandbox/writes", timeout=5).json()
    return sum(
        w["type"] == kind and w["contact_id"] == ghl_id and w["status"] == 200
        for w in sent["webhooks_sent"]
    )


def outcomes(stack: Stack) -> dict[str, Any]:
    counts: dict[str, Any] = stack.stats()["outcomes"]
    return counts


def in_calltools(stack: Stack, ghl_id: str) -> list[dict[str, Any]]:
    return [c for c in stack.calltools_state()["contacts"] if c.get("ghl_contact_id") == ghl_id]


def sync_in(stack: Stack, signer: Signer, ghl_id: str, phone: str) -> int:
    """A GHL contact tagged `cold lead`, synced into the bucket; its CallTools id."""
    assert stack.post(tagged("cold lead", id=ghl_id, phone=phone), signer).status_code == 200
    [contact] = wait_for(lambda: in_calltools(stack, ghl_id), 20, f"{ghl_id} in CallTools")
    ct_id: int = contact["id"]
    wait_for(lambda: ct_id in stack.bucket_members(), 20, f"{ghl_id} in the bucket")
    wait_for(stack.queue_empty, 20, "the sync to be consumed")
    return ct_id


def tag_and_notes(stack: Stack, ghl_id: str, tag: str) -> list[dict[str, Any]] | None:
    """The contact's notes once it carries `tag` and has at least one; else None."""
    if tag not in ghl_contact(stack, ghl_id)["tags"]:
        return None
    return notes(stack, ghl_id) or None


def settle(stack: Stack, ghl_id: str, echoes: int = 1) -> None:
    """Wait for GHL's webhooks back after our writes to be delivered, and the queue to drain."""
    wait_for(lambda: echoes_delivered(stack, ghl_id) >= echoes, SETTLED_WITHIN, "the echo")
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the queue to drain")


# --- acceptance ----------------------------------------------------------------------------
def test_a_disposition_becomes_a_ghl_tag_and_note_within_seconds(
    stack: Stack, signer: Signer, record_property: Any
):
    ct_id = sync_in(stack, signer, "outcome1", "+13125550161")
    started = time.monotonic()
    record = place_call(stack, ct_id, "Not Interested")
    found = wait_for(
        lambda: tag_and_notes(stack, "outcome1", "calltools: not interested"),
        APPLIED_WITHIN,
        "the tag and the note in GHL",
    )
    took = time.monotonic() - started
    record_property("hook_to_ghl_seconds", round(took, 3))
    print(f"\nhook → GHL tag and note: {took * 1000:.0f} ms")
    [note] = found
    assert "Not Interested" in note["body"] and str(record["id"]) in note["body"]
    assert "+13125550161" in note["body"]  # the phone dialled
    contact = ghl_contact(stack, "outcome1")
    assert {"cold lead", "calltools: not interested"} <= set(contact["tags"])
    assert contact["dndSettings"]["Call"]["status"] == "inactive"  # not a do-not-call outcome
    assert ct_id in stack.bucket_members()  # and it stays in the dialler
    settle(stack, "outcome1")


def test_the_same_hook_three_more_times_gives_one_note(stack: Stack, signer: Signer):
    ct_id = sync_in(stack, signer, "outcome2", "+13125550162")
    record = place_call(stack, ct_id, "Interested")
    wait_for(
        lambda: tag_and_notes(stack, "outcome2", "calltools: interested"),
        APPLIED_WITHIN,
        "the outcome in GHL",
    )
    settle(stack, "outcome2")
    reads = f"/api/historicalcalldispositions/{record['id']}/"
    read_before = sum(c["path"] == reads for c in api_calls(stack.calltools_admin))
    for _ in range(3):
        reply = send_hook(stack, record)
        assert reply.status_code == 200 and reply.json()["status"] == "accepted", reply.text
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the three copies to be consumed")
    assert len(notes(stack, "outcome2")) == 1
    assert ghl_writes_to(stack, "outcome2").count("POST /contacts/outcome2/notes") == 1
    # Known as done: the copies did not even read the record again.
    assert sum(c["path"] == reads for c in api_calls(stack.calltools_admin)) == read_before


def test_a_wrong_or_missing_token_gets_401_and_writes_nothing(stack: Stack, signer: Signer):
    ct_id = sync_in(stack, signer, "outcome3", "+13125550163")
    # A real record whose hook CallTools never sent: only a forged delivery could apply it.
    record = place_call(stack, ct_id, "Sale", deliver=False)
    refused = [
        send_hook(stack, record, url=hook_url(stack, "not-the-secret")),
        send_hook(stack, record, url=hook_url(stack, None)),
        send_hook(stack, record, url=hook_url(stack, None), headers={"X-Webhook-Secret": "nope"}),
    ]
    for reply in refused:
        assert reply.status_code == 401, reply.text
        assert reply.json()["status"] == "unauthorized"
    # A sentinel the right token sends: once CallTools was asked for it, the queue had its turn.
    sentinel = 999_999_001
    assert send_hook(stack, {"id": sentinel}).status_code == 200
    wait_for(
        lambda: any(
            c["path"] == f"/api/historicalcalldispositions/{sentinel}/"
            for c in api_calls(stack.calltools_admin)
        ),
        SETTLED_WITHIN,
        "the sentinel to be read back",
    )
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the queue to drain")
    paths = [c["path"] for c in api_calls(stack.calltools_admin)]
    assert f"/api/historicalcalldispositions/{record['id']}/" not in paths
    assert "calltools: sale" not in ghl_contact(stack, "outcome3")["tags"]
    assert not notes(stack, "outcome3") and not ghl_writes_to(stack, "outcome3")


def test_the_header_form_works_and_only_the_id_of_the_body_is_trusted(stack: Stack, signer: Signer):
    ct_id = sync_in(stack, signer, "outcome4", "+13125550164")
    record = place_call(stack, ct_id, "Interested", deliver=False)
    # A body claiming a do-not-call outcome: the record CallTools holds says "Interested".
    forged = {**record, "disposition": 61005, "phone_number": "+13125550199"}
    secret = stack.info["calltools_webhook_secret"]
    reply = send_hook(
        stack, forged, url=hook_url(stack, None), headers={"X-Webhook-Secret": secret}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["record_id"] == record["id"]
    [note] = wait_for(
        lambda: tag_and_notes(stack, "outcome4", "calltools: interested"),
        APPLIED_WITHIN,
        "the outcome CallTools holds",
    )
    assert "+13125550164" in note["body"] and "+13125550199" not in note["body"]
    contact = ghl_contact(stack, "outcome4")
    assert "calltools: do not call" not in contact["tags"]
    assert contact["dndSettings"]["Call"]["status"] == "inactive"
    settle(stack, "outcome4")
    assert ct_id in stack.bucket_members()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[", 400),
        (b'{"id": "9120000"}', 400),
        (b'{"id": 0}', 400),
        (b'{"id": 1, "pad": "' + b"x" * 70_000 + b'"}', 413),
    ],
    ids=["not-json", "id-not-a-number", "id-out-of-range", "too-large"],
)
def test_bad_hook_bodies_get_a_clear_4xx(stack: Stack, body: bytes, status: int):
    reply = httpx.post(
        hook_url(stack), content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert reply.status_code == status, reply.text
    assert reply.json()["reason"]


def test_a_record_calltools_does_not_know_writes_nothing(stack: Stack):
    before = outcomes(stack)["unknown"]
    ghl_calls = len(api_calls(stack.info["ghl_url"]))
    reply = send_hook(stack, {"id": 999_999_999, "contact": 48_000_000, "disposition": 61005})
    assert reply.status_code == 200 and reply.json()["status"] == "accepted", reply.text
    wait_for(lambda: outcomes(stack)["unknown"] == before + 1, SETTLED_WITHIN, "stats: unknown")
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the queue to drain")
    read = [c["path"] for c in api_calls(stack.calltools_admin)]
    assert "/api/historicalcalldispositions/999999999/" in read  # asked, and CallTools said 404
    assert api_calls(stack.info["ghl_url"])[ghl_calls:] == []  # GHL: not even read


def test_a_do_not_call_disposition_sets_dnd_for_calls_and_takes_it_out(
    stack: Stack, signer: Signer
):
    ct_id = sync_in(stack, signer, "outcome5", "+13125550165")
    place_call(stack, ct_id, "Do Not Call")
    wait_for(
        lambda: ghl_contact(stack, "outcome5")["dndSettings"]["Call"]["status"] == "active",
        APPLIED_WITHIN,
        "DND for calls in GHL",
    )
    wait_for(lambda: ct_id not in stack.bucket_members(), APPLIED_WITHIN, "out of the bucket")
    contact = ghl_contact(stack, "outcome5")
    assert "CallTools" in contact["dndSettings"]["Call"]["message"]
    assert "Do Not Call" in contact["dndSettings"]["Call"]["message"]
    assert {"cold lead", "calltools: do not call"} <= set(contact["tags"])
    assert len(notes(stack, "outcome5")) == 1
    settle(stack, "outcome5")
    wait_for(lambda: echoes_delivered(stack, "outcome5", "ContactDndUpdate"), 10, "DND echo")
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the DND echo to be consumed")
    assert ct_id not in stack.bucket_members()  # the echo did not put it back
    tag_puts = httpx.get(f"{stack.info['ghl_url']}/_sandbox/writes", timeout=5).json()
    assert tag_puts["tag_replacements"] == 0  # never a PUT with `tags`


def test_the_echo_contact_tag_update_costs_no_calltools_call(stack: Stack, signer: Signer):
    ct_id = sync_in(stack, signer, "outcome6", "+13125550166")
    start = len(api_calls(stack.calltools_admin))
    record = place_call(stack, ct_id, "Not Interested")
    wait_for(
        lambda: tag_and_notes(stack, "outcome6", "calltools: not interested"),
        APPLIED_WITHIN,
        "the outcome in GHL",
    )
    settle(stack, "outcome6")  # the echo ContactTagUpdate was accepted (200) and consumed
    own_reads = (f"/api/historicalcalldispositions/{record['id']}/", "/api/calldispositions/")
    since = api_calls(stack.calltools_admin)[start:]
    assert any(c["path"] == own_reads[0] for c in since)  # the outcome read its record back
    echo_cost = [f"{c['method']} {c['path']}" for c in since if not c["path"].startswith(own_reads)]
    assert echo_cost == [], [f"{c['method']} {c['path']}" for c in since]


def test_a_disposition_whose_hook_never_arrived_is_applied_by_sync_trigger(
    stack: Stack, signer: Signer
):
    ct_id = sync_in(stack, signer, "outcome7", "+13125550167")
    record = place_call(stack, ct_id, "Not Interested", deliver=False)
    reads = f"/api/historicalcalldispositions/{record['id']}/"
    assert not any(c["path"] == reads for c in api_calls(stack.calltools_admin))
    assert not notes(stack, "outcome7")
    started = time.monotonic()
    reply = httpx.post(
        stack.info["url"] + "/sync/trigger", headers=stack.admin_headers(), timeout=10
    )
    assert reply.status_code in (202, 409), reply.text
    [note] = wait_for(
        lambda: tag_and_notes(stack, "outcome7", "calltools: not interested"),
        SETTLED_WITHIN,
        "the caught-up outcome in GHL",
    )
    print(f"\n/sync/trigger → caught-up outcome in GHL: {time.monotonic() - started:.2f} s")
    assert str(record["id"]) in note["body"]
    # Leave no run behind for the tests after this one.
    wait_for(lambda: stack.stats()["current_run"] is None, 60, "the triggered run to finish")
    settle(stack, "outcome7")
    assert outcomes(stack)["checkpoint"] >= record["id"]


def test_sync_stats_shows_outcomes_applied_pending_unmapped_and_the_newest_lag(
    stack: Stack, signer: Signer
):
    before = outcomes(stack)
    # A CallTools contact no GHL contact of ours stands behind: recorded as unmapped.
    walk_in = {"first_name": "Walk-in", "mobile_phone_number": "+13125550168"}
    seeded = httpx.post(f"{stack.calltools_admin}/_sandbox/contacts", json=walk_in, timeout=5)
    ghl_writes = [c for c in api_calls(stack.info["ghl_url"]) if c["method"] != "GET"]
    place_call(stack, seeded.json()["id"], "Interested")
    unmapped = wait_for(
        lambda: (o := outcomes(stack))["unmapped"] == before["unmapped"] + 1 and o,
        SETTLED_WITHIN,
        "stats: one more unmapped",
    )
    wait_for(stack.queue_empty, SETTLED_WITHIN, "the queue to drain")
    assert [c for c in api_calls(stack.info["ghl_url"]) if c["method"] != "GET"] == ghl_writes
    assert unmapped["applied"] == before["applied"] and unmapped["pending"] == 0
    # One that applies: `applied` counts it, and the newest applied and its lag are its own.
    ct_id = sync_in(stack, signer, "outcome8", "+13125550169")
    placed = datetime.now(UTC)
    place_call(stack, ct_id, "Interested")
    wait_for(
        lambda: tag_and_notes(stack, "outcome8", "calltools: interested"),
        APPLIED_WITHIN,
        "the outcome in GHL",
    )
    settle(stack, "outcome8")
    after = outcomes(stack)
    assert after["applied"] == before["applied"] + 1
    assert after["pending"] == 0 and after["unmapped"] == before["unmapped"] + 1
    newest = datetime.fromisoformat(after["newest_applied_at"])
    assert placed <= newest <= datetime.now(UTC)
    # Lag: disposition recorded → applied in GHL (CallTools stamps whole seconds).
    assert 0 <= after["newest_lag_seconds"] < APPLIED_WITHIN + 1


# --- the README's curls ----------------------------------------------------------------------
def readme_curls() -> list[str]:
    """The README's call-outcome curls, with the sandbox URLs as placeholders."""
    text = (ROOT / "README.md").read_text()
    return [
        line
        for line in text.splitlines()
        if line.startswith("curl ") and ("<calltools sandbox>" in line or "<ghl sandbox>" in line)
    ]


def run_curl(command: str) -> Any:
    reply = subprocess.run(  # noqa: S603 - the commands the README and the banner give users
        shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(reply.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_curls_place_a_call_and_show_the_new_tag_and_note(stack: Stack):
    banner = [line for line in stack.output().splitlines() if line.startswith("curl ")]
    sample, place = banner[0], next(line for line in banner if "/_sandbox/calls" in line)
    placing, show_contact, show_notes = (
        line.replace("<calltools sandbox>", stack.calltools_admin).replace(
            "<ghl sandbox>", stack.info["ghl_url"]
        )
        for line in readme_curls()
    )
    assert placing == place  # the README gives what the banner prints
    assert run_curl(sample)["status"] == "accepted"
    [contact] = wait_for(
        lambda: in_calltools(stack, "p4Rk2VtQ8mZs1LwY7nHc"), 20, "the sample contact in CallTools"
    )
    wait_for(stack.queue_empty, 20, "the sample event to be consumed")
    # The banner's id is right on a fresh stack; here other tests may have synced first.
    placing = placing.replace('"contact": 48000000', f'"contact": {contact["id"]}')
    assert run_curl(placing)["disposition"] == 61003

    def tag_and_note() -> bool:
        tags = run_curl(show_contact)["contact"]["tags"]
        found = run_curl(show_notes)["notes"]
        return "calltools: not interested" in tags and len(found) == 1

    wait_for(tag_and_note, APPLIED_WITHIN, "the README's curls to show the tag and the note")
    assert "Not Interested" in run_curl(show_notes)["notes"][0]["body"]
    settle(stack, "p4Rk2VtQ8mZs1LwY7nHc")
