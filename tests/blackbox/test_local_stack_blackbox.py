"""Black box: start `python -m sandbox` (what `make run` starts) and talk to it over HTTP only."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.blackbox.stack import ROOT, Stack, wait_for
from tests.support.helpers import EVENT_KEYS, Signer, dumps, ghl_event, tagged


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_printed_curl_gets_the_sample_contact_into_the_bucket(stack: Stack):
    output = stack.output()
    assert "AWS        embedded moto server" in output and "CallTools  sandbox" in output
    curl = next(line for line in output.splitlines() if line.startswith("curl "))
    reply = subprocess.run(  # noqa: S603 - the command the stack printed for users
        shlex.split(curl), cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(reply.stdout)["status"] == "accepted"
    wait_for(lambda: stack.bucket_members(), 20, "the sample contact in the Cold Leads bucket")


def test_signed_webhooks_over_http_five_duplicates_one_add(stack: Stack, signer: Signer):
    body = tagged("cold lead", id="blackbox1", phone="+14155550132")
    for _ in range(5):
        assert stack.post(body, signer).status_code == 200
    members = wait_for(
        lambda: [
            c for c in stack.calltools_state()["contacts"] if c.get("ghl_contact_id") == "blackbox1"
        ],
        20,
        "the contact in CallTools",
    )
    wait_for(stack.queue_empty, 20, "all five deliveries to be consumed")
    state = stack.calltools_state()
    mine = [c for c in state["contacts"] if c.get("ghl_contact_id") == "blackbox1"]
    adds = [e for e in state["membership_events"] if e["contact_id"] == members[0]["id"]]
    assert len(mine) == 1 and len(adds) == 1


def test_forged_and_dnd_over_http(stack: Stack, signer: Signer):
    url = stack.info["url"] + "/webhook/ghl"
    forged = dumps(tagged("cold lead", id="blackbox2", phone="+12065550188"))
    reply = httpx.post(url, content=forged, headers={"X-GHL-Signature": Signer().ed25519(forged)})
    assert reply.status_code == 401
    reply = httpx.post(url, content=b"[", headers=signer.headers(b"["))
    assert reply.status_code == 400
    dnd = tagged("cold lead", id="blackbox3", phone="+12065550189", dnd=True)
    assert stack.post(dnd, signer).status_code == 200
    wait_for(stack.queue_empty, 20, "the DND snapshot to be consumed")

    def blackbox3() -> list[dict[str, Any]]:
        state = stack.calltools_state()["contacts"]
        return [c for c in state if c.get("ghl_contact_id") == "blackbox3"]

    # The DND snapshot, tagged for the bucket, kept the contact out of it (and out of CallTools).
    assert not blackbox3()
    off = tagged("cold lead", id="blackbox3", phone="+12065550189")
    assert stack.post(off, signer).status_code == 200
    # DND lifted later: now it arrives, in the bucket, added once.
    [contact] = wait_for(
        lambda: [c for c in blackbox3() if 70412 in c.get("buckets", [])],
        20,
        "the contact in the bucket after DND was lifted",
    )
    events = stack.calltools_state()["membership_events"]
    assert len([e for e in events if e["contact_id"] == contact["id"]]) == 1
    assert not [
        c for c in stack.calltools_state()["contacts"] if c.get("ghl_contact_id") == "blackbox2"
    ]


def test_cli_reconcile_and_stats_agree_with_calltools(stack: Stack):
    """The operator CLI finds the local stack by itself (its stack.json) and follows a run."""
    env = {**os.environ, "LOCAL_STATE_DIR": str(stack.state_dir)}
    httpx.post(f"{stack.info['ghl_url']}/_sandbox/generate", json={"n": 80}, timeout=10)
    cli = [sys.executable, "-m", "ops.cli"]
    run = subprocess.run(  # noqa: S603 - our own CLI
        [*cli, "backfill", "--timeout", "120"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "finished" in run.stdout
    wait_for(stack.queue_empty, 60, "the backfilled contacts to be consumed")
    stats = subprocess.run(  # noqa: S603 - our own CLI
        [*cli, "stats", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert data["contacts"]["in_bucket"]["Cold Leads"] == len(stack.bucket_members()) > 50
    assert data["last_run"]["status"] == "finished"


def cli(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "LOCAL_STATE_DIR": str(stack.state_dir), "COLUMNS": "200", **env}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "ops.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_is_green_on_the_sandbox_and_finds_the_bucket_method(stack: Stack):
    admin = stack.info["calltools_url"].removesuffix("/api/")
    probe = httpx.post(f"{admin}/_sandbox/contacts", json={"first_name": "Probe"}, timeout=5).json()
    result = cli(stack, "doctor", "--probe-contact", str(probe["id"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "warn" not in result.stdout
    assert "'contact_patch' works" in result.stdout


@pytest.mark.parametrize(
    ("env", "failing"),
    [
        ({"CALLTOOLS_API_TOKEN": "wrong"}, "CallTools: API key"),
        (
            {"SYNC_RULES": '[{"tag": "cold lead", "bucket": "No Such Bucket"}]'},
            "bucket 'No Such Bucket'",
        ),
        ({"GHL_API_TOKEN": "wrong"}, "GHL: location readable"),
    ],
)
def test_doctor_names_the_failing_check(stack: Stack, env: dict[str, str], failing: str):
    result = cli(stack, "doctor", **env)
    assert result.returncode == 1
    assert failing in result.stdout.split("failing:")[-1]


def test_dlq_list_shows_reasons_and_redrive_moves_back(stack: Stack):
    sqs = stack.sqs()
    sqs.send_message(QueueUrl=stack.info["queue_url"], MessageBody='{"not": "a sync message"}')
    listed = wait_for(
        lambda: "invalid message" in (out := cli(stack, "dlq", "list").stdout) and out,
        30,
        "the poisoned message in the DLQ",
    )
    assert "invalid message" in listed
    moved = cli(stack, "dlq", "redrive")
    assert moved.returncode == 0 and "Moved 1 message(s)" in moved.stdout, listed


# --- Fail closed (issue 10), over HTTP -------------------------------------------------------------
def in_calltools(stack: Stack, ghl_id: str) -> list[dict[str, Any]]:
    return [c for c in stack.calltools_state()["contacts"] if c.get("ghl_contact_id") == ghl_id]


def removal_attempts(calltools_admin: str) -> int:
    """Bucket removals CallTools was asked for, whichever call the account uses."""
    calls = httpx.get(f"{calltools_admin}/_sandbox/calls", timeout=5).json()["calls"]
    return sum(
        (c["method"] == "PATCH" and "remove_" in json.dumps(c["body"]))
        or (c["method"] == "DELETE" and "/contactbuckets/" in c["path"])
        for c in calls
    )


def ghl_contact(stack: Stack, ghl_id: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.info['ghl_url']}/_sandbox/contacts/{ghl_id}", timeout=5)
    contact: dict[str, Any] = reply.json()["contact"]
    return contact


@pytest.mark.parametrize("location", [None, "AnotherAgencysLocation1"])
def test_a_signed_event_of_another_or_no_location_changes_nothing(
    stack: Stack, signer: Signer, location: str | None
):
    """GHL signs every app's webhooks with one key: a valid signature is not enough."""
    ghl_id = f"foreign-{location or 'none'}"
    body = tagged("cold lead", id=ghl_id, phone="+13035550171")
    body.pop("locationId")
    if location:
        body["locationId"] = location
    reply = stack.post(body, signer)
    assert reply.status_code == 200 and reply.json()["status"] == "ignored"
    assert "location" in reply.json()["reason"]
    wait_for(stack.queue_empty, 20, "the queue to be empty")
    assert not in_calltools(stack, ghl_id)


def test_a_signed_event_with_null_tags_is_accepted_and_the_contact_reread(
    stack: Stack, signer: Signer
):
    body = tagged("cold lead", id="nulltags1", phone="+13035550172")
    contact = {k: v for k, v in body.items() if k not in EVENT_KEYS}
    httpx.put(f"{stack.info['ghl_url']}/_sandbox/contacts/nulltags1", json=contact, timeout=5)
    reply = stack.post({**body, "tags": None}, signer, seed=False)
    assert reply.status_code == 200 and reply.json()["status"] == "accepted"
    # Tags unknown: GHL was asked, and it says "cold lead".
    wait_for(lambda: in_calltools(stack, "nulltags1"), 20, "the re-read contact in CallTools")


def test_a_dnd_set_while_the_sync_rereads_the_contact_takes_it_out(stack: Stack, signer: Signer):
    """GHL serves the sync's re-read, then the contact becomes DND for calls. The DND event is
    newer than the data read, though older than our clock when the reply arrived."""
    body = tagged("cold lead", id="racing1", phone="+13035550173")
    contact = {k: v for k, v in body.items() if k not in EVENT_KEYS}
    ghl = stack.info["ghl_url"]
    httpx.put(f"{ghl}/_sandbox/contacts/racing1", json=contact, timeout=5)
    dnd: dict[str, Any] = {
        "dnd": True,
        "dndSettings": {"Call": {"status": "active", "message": "", "code": ""}},
    }
    httpx.post(f"{ghl}/_sandbox/contacts/racing1/after_read", json=dnd, timeout=5)
    assert stack.post(body, signer, seed=False).status_code == 200
    ct = wait_for(lambda: in_calltools(stack, "racing1"), 20, "the contact in CallTools")
    wait_for(lambda: ct[0]["id"] in stack.bucket_members(), 20, "the contact in the bucket")
    now_dnd = ghl_contact(stack, "racing1")
    assert now_dnd["dnd"] is True  # applied right after GHL served the read
    event = ghl_event(
        "ContactDndUpdate", id="racing1", phone="+13035550173", tags=["cold lead"], **dnd
    )
    event["timestamp"] = now_dnd["dateUpdated"]
    assert stack.post(event, signer, seed=False).status_code == 200
    wait_for(lambda: ct[0]["id"] not in stack.bucket_members(), 20, "the DND contact out")


def test_a_removal_calltools_refuses_is_done_once_it_accepts_and_a_run_is_triggered(
    stack: Stack, signer: Signer
):
    admin = stack.info["calltools_url"].removesuffix("/api/")
    body = tagged("cold lead", id="locked1", phone="+13035550174")
    assert stack.post(body, signer).status_code == 200
    ct = wait_for(lambda: in_calltools(stack, "locked1"), 20, "the contact in CallTools")
    wait_for(lambda: ct[0]["id"] in stack.bucket_members(), 20, "the contact in the bucket")
    httpx.post(f"{admin}/_sandbox/config", json={"refuse_removals": True}, timeout=5)
    try:
        before = removal_attempts(admin)
        # Still tagged, now DND for calls: the nightly walk sees it, so only a removal plan that
        # is never skipped as "failed alike" gets it out.
        dnd = ghl_event("ContactDndUpdate", id="locked1", phone="+13035550174", tags=["cold lead"])
        dnd["dndSettings"] = {"Call": {"status": "active", "message": "", "code": ""}}
        assert stack.post(dnd, signer).is_success
        wait_for(lambda: removal_attempts(admin) > before, 20, "CallTools to be asked to remove")
        assert ct[0]["id"] in stack.bucket_members()  # still in: CallTools said no
    finally:
        httpx.post(f"{admin}/_sandbox/config", json={"refuse_removals": False}, timeout=5)
    token = stack.info["admin_token"]
    reply = httpx.post(
        stack.info["url"] + "/sync/trigger",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert reply.status_code in (202, 409)
    wait_for(lambda: ct[0]["id"] not in stack.bucket_members(), 60, "the removal once accepted")
