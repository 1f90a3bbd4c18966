"""The CallTools hook route end to end (issue 14 review): a repeated token is checked once, an
outcome's whole path logs neither the hook's token nor a phone, and our tag's echo is harmless.
Its fuzzing is in test_fuzz_routes.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.helpers import CONTACT_ID, tagged
from tests.support.service import HOOK_SECRET, Service

PHONE = "+13125550147"  # tagged()'s contact


def hook(service: Service, body: bytes, query: str = "", **headers: str) -> Any:
    return service.client.http.post(
        f"/webhook/calltools{query}",
        headers={"Content-Type": "application/json", **headers},
        body=body,
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"?token=wrong&token={HOOK_SECRET}", 200),  # the last one counts (Chalice's MultiDict)
        (f"?token={HOOK_SECRET}&token=wrong", 401),
        ("?token=", 401),
        ("?token=%20", 401),
        (f"?TOKEN={HOOK_SECRET}", 401),  # the name is exact
        (f"?secret={HOOK_SECRET}", 401),
    ],
)
def test_a_repeated_or_odd_token_parameter_is_checked_once_and_exactly(
    hooked: Service, query: str, status: int
):
    assert hook(hooked, b'{"id": 7}', query).status_code == status
    assert hooked.queue_depth() == (1 if status == 200 else 0)


def test_the_outcome_path_logs_neither_the_token_nor_a_phone(
    hooked: Service,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    logs_on_stdout: None,
):
    hooked.post(tagged("cold lead"))
    hooked.drain()
    ct_id = hooked.calltools_id(CONTACT_ID)
    assert ct_id is not None
    record = hooked.calltools.record_call(ct_id, "Do Not Call", deliver=False)
    assert record["phone_number"] == PHONE
    body = json.dumps(record).encode()  # the hook's body is the record, phone included
    assert hook(hooked, body, "?token=wrong").status_code == 401
    assert hook(hooked, body, f"?token={HOOK_SECRET}").status_code == 200
    hooked.drain()
    notes = hooked.ghl.notes(CONTACT_ID)
    assert len(notes) == 1 and PHONE in notes[0]["body"]  # GHL gets it; the logs must not
    assert not hooked.in_bucket(CONTACT_ID)  # DND took it out
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "call outcome finished" in text and "CallTools hook refused" in text
    assert HOOK_SECRET not in text
    assert PHONE not in text and PHONE[2:] not in text
    assert not re.search(r"\+1\d{10}", text)


def test_the_echo_of_our_own_tag_changes_nothing_in_calltools(hooked: Service):
    """Our tag add makes GHL send ContactTagUpdate back (gohighlevel.md §12): the sync it
    starts must leave CallTools as it was (the outcome tag is no bucket rule's)."""
    hooked.post(tagged("cold lead"))
    hooked.drain()
    ct_id = hooked.calltools_id(CONTACT_ID)
    assert ct_id is not None
    record = hooked.calltools.record_call(ct_id, "Not Interested", deliver=False)
    assert (
        hook(hooked, json.dumps({"id": record["id"]}).encode(), f"?token={HOOK_SECRET}").status_code
        == 200
    )
    hooked.drain()
    contact = hooked.ghl.contact(CONTACT_ID)
    assert contact is not None
    tags = contact["tags"]
    assert "calltools: not interested" in tags
    hooked.calltools.reset_calls()
    hooked.post(tagged(*tags))  # GHL's echo, carrying the tags as they are now
    hooked.drain()
    writes = [c for c in hooked.calltools.calls() if c.method != "GET"]
    assert writes == [] and hooked.in_bucket(CONTACT_ID)
