"""The CallTools hook route end to end (issue 14 review): odd requests never get a 5xx nor
enqueue anything, and an outcome's whole path logs neither the hook's token nor a phone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.component.test_fuzz_routes import FUZZ, bodies, unauthenticated_headers
from tests.support.helpers import CONTACT_ID, tagged
from tests.support.service import Service

HOOK_SECRET = "hook-secret-for-tests-7f3a"
PHONE = "+13125550147"  # tagged()'s contact


@pytest.fixture
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Set before `service` builds the container (use_moto_env keeps what it is not given).
    monkeypatch.setenv("CALLTOOLS_WEBHOOK_SECRET", HOOK_SECRET)
    yield HOOK_SECRET


@pytest.fixture
def hooked(hook_secret: str, service: Service) -> Service:
    return service


def hook(service: Service, body: bytes, query: str = "", **headers: str) -> Any:
    return service.client.http.post(
        f"/webhook/calltools{query}",
        headers={"Content-Type": "application/json", **headers},
        body=body,
    )


@FUZZ
@given(body=bodies, headers=unauthenticated_headers, token=st.text(max_size=40))
def test_unauthenticated_hooks_never_5xx_and_never_enqueue(
    hooked: Service, body: bytes, headers: dict[str, str], token: str
):
    from urllib.parse import quote

    response = hooked.client.http.post(
        f"/webhook/calltools?token={quote(token)}", headers=headers, body=body
    )
    assert response.status_code in (400, 401, 413, 415)
    assert hooked.queue_depth() == 0


@FUZZ
@given(body=bodies)
def test_authenticated_garbage_never_5xx(hooked: Service, body: bytes):
    response = hook(hooked, body, f"?token={HOOK_SECRET}")
    assert response.status_code in (200, 400, 413)


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
