"""Writes to a GHL contact for call outcomes, against scripted replies (httpx.MockTransport): the
request each sends, which failures are resent (tags, DND) and which are not (a note)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chalicelib.adapters.ghl.api import GhlHttpApi
from chalicelib.adapters.ghl.writes import GhlContactWrites
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.pacing import RatePacer
from chalicelib.adapters.http.retry import RetryPolicy
from chalicelib.domain.errors import (
    ConfigurationError,
    MaybeApplied,
    NotFound,
    PermanentError,
    TransientError,
)
from chalicelib.ports import GhlContactWriter
from tests.support.helpers import CONTACT_ID

NOTE = {"note": {"id": "Nq7Vt2Lm9Kw4Rb8Xz1Pd", "body": "x", "contactId": CONTACT_ID}}
Reply = httpx.Response | Exception


class Ghl:
    """A scripted GHL: records (method, path, body), answers from `reply` or a list of replies."""

    def __init__(self, reply: Callable[[str, str, Any], Reply] | list[Reply]) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.slept: list[float] = []
        self._reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        result = (
            self._reply.pop(0)
            if isinstance(self._reply, list)
            else self._reply(request.method, request.url.path, body)
        )
        if isinstance(result, Exception):
            raise result
        return result

    def api(self) -> GhlHttpApi:
        return GhlHttpApi(
            "https://services.example.test",
            "token",
            options=ClientOptions(
                transport=httpx.MockTransport(self),
                retry=RetryPolicy(sleep=self.slept.append),
                max_rps=0,
            ),
        )

    def writer(self) -> GhlContactWrites:
        return self.api().writer()


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"succeded": True})


def test_each_write_sends_the_documented_request():
    ghl = Ghl(lambda m, p, b: ok(NOTE) if p.endswith("/notes") else ok())
    writer = ghl.writer()
    writer.add_tags(CONTACT_ID, ["calltools: not interested"])
    writer.remove_tags(CONTACT_ID, ["hot lead"])
    assert writer.add_note(CONTACT_ID, "Called.") == "Nq7Vt2Lm9Kw4Rb8Xz1Pd"
    writer.set_call_dnd(CONTACT_ID, "CallTools: Do Not Call")
    assert ghl.requests == [
        ("POST", f"/contacts/{CONTACT_ID}/tags", {"tags": ["calltools: not interested"]}),
        ("DELETE", f"/contacts/{CONTACT_ID}/tags", {"tags": ["hot lead"]}),
        ("POST", f"/contacts/{CONTACT_ID}/notes", {"body": "Called."}),
        (
            "PUT",
            f"/contacts/{CONTACT_ID}",
            {"dndSettings": {"Call": {"status": "active", "message": "CallTools: Do Not Call"}}},
        ),
    ]


def test_the_dnd_put_never_carries_tags():
    """A contact PUT with `tags` replaces every tag the contact has."""
    ghl = Ghl(lambda m, p, b: ok())
    ghl.writer().set_call_dnd(CONTACT_ID, "m")
    ((_, _, body),) = ghl.requests
    assert set(body) == {"dndSettings"}


def test_no_tags_means_no_call():
    ghl = Ghl(lambda m, p, b: ok())
    ghl.writer().add_tags(CONTACT_ID, [])
    ghl.writer().remove_tags(CONTACT_ID, ())
    assert ghl.requests == []


def test_notes_reads_id_and_body():
    notes = {"notes": [{"id": "n1", "body": "first"}, {"id": "n2", "body": None}, {"body": "x"}]}
    ghl = Ghl(lambda m, p, b: ok(notes))
    assert ghl.writer().notes(CONTACT_ID) == [("n1", "first"), ("n2", "")]
    assert ghl.requests == [("GET", f"/contacts/{CONTACT_ID}/notes", None)]


def test_a_notes_reply_without_a_list_is_not_taken_for_no_notes():
    """The caller would write the note again."""
    ghl = Ghl(lambda m, p, b: ok({"message": "?"}))
    with pytest.raises(TransientError):
        ghl.writer().notes(CONTACT_ID)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(502, text="<html>502 Bad Gateway</html>"),
        httpx.Response(504, text="<html>504</html>"),
        httpx.ReadTimeout("no reply"),
    ],
    ids=["502", "504", "read-timeout"],
)
def test_a_note_is_not_resent_when_it_may_have_been_made(failure: Reply):
    ghl = Ghl([failure, ok(NOTE)])
    with pytest.raises(MaybeApplied):
        ghl.writer().add_note(CONTACT_ID, "Called.")
    assert len(ghl.requests) == 1


@pytest.mark.parametrize(
    "first",
    [httpx.Response(429, json={"message": "Too many"}), httpx.ConnectError("refused")],
    ids=["429", "refused"],
)
def test_a_note_is_resent_when_it_certainly_was_not_made(first: Reply):
    ghl = Ghl([first, ok(NOTE)])
    assert ghl.writer().add_note(CONTACT_ID, "Called.") == "Nq7Vt2Lm9Kw4Rb8Xz1Pd"
    assert len(ghl.requests) == 2


@pytest.mark.parametrize("reply", [ok({"note": {}}), ok({"succeded": True}), ok([])])
def test_a_note_reply_naming_no_note_may_have_made_one(reply: httpx.Response):
    ghl = Ghl([reply])
    with pytest.raises(MaybeApplied, match="no note id"):
        ghl.writer().add_note(CONTACT_ID, "Called.")
    assert len(ghl.requests) == 1


def test_a_note_made_as_the_daily_budget_runs_out_keeps_its_id():
    """The cap would otherwise throw away the reply of a write that is not resent."""
    spent = {"x-ratelimit-daily-remaining": "3"}
    ghl = Ghl([httpx.Response(201, json=NOTE, headers=spent)])
    assert ghl.writer().add_note(CONTACT_ID, "Called.") == "Nq7Vt2Lm9Kw4Rb8Xz1Pd"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("add_tags", (["calltools: busy"],)),
        ("remove_tags", (["hot lead"],)),
        ("set_call_dnd", ("CallTools: DNC",)),
    ],
)
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502, text="<html></html>"), httpx.ReadTimeout("no reply")],
    ids=["502", "read-timeout"],
)
def test_tag_and_dnd_writes_are_resent_they_are_the_same_twice(
    call: str, args: tuple[Any, ...], failure: Reply
):
    ghl = Ghl([failure, ok()])
    getattr(ghl.writer(), call)(CONTACT_ID, *args)
    assert len(ghl.requests) == 2
    assert ghl.requests[0] == ghl.requests[1]


def test_a_429_waits_as_retry_after_says():
    ghl = Ghl([httpx.Response(429, headers={"Retry-After": "3"}), ok()])
    ghl.writer().add_tags(CONTACT_ID, ["t"])
    assert ghl.slept == [3.0]


def test_writes_share_the_reads_pace():
    """One per-location budget: a read that spends GHL's window holds the writes back too."""
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-interval-milliseconds": "10000"}
    ghl = Ghl([httpx.Response(200, json={"contact": {}}, headers=spent), ok()])
    api = ghl.api()
    waited: list[float] = []
    api._pacer = RatePacer(100, clock=lambda: 0.0, sleep=waited.append)
    with pytest.raises(PermanentError):  # an empty contact; the headers count all the same
        api.get_contact(CONTACT_ID)
    api.writer().add_tags(CONTACT_ID, ["t"])
    assert waited == [10.0]


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("add_tags", (["t"],)),
        ("remove_tags", (["t"],)),
        ("add_note", ("n",)),
        ("notes", ()),
        ("set_call_dnd", ("m",)),
    ],
)
def test_a_404_is_a_contact_gone_and_other_4xx_are_refusals(call: str, args: tuple[Any, ...]):
    with pytest.raises(NotFound):
        getattr(Ghl([httpx.Response(404, json={})]).writer(), call)(CONTACT_ID, *args)
    refused = Ghl([httpx.Response(422, json={"message": ["tags must be an array"]})])
    with pytest.raises(PermanentError, match="422"):
        getattr(refused.writer(), call)(CONTACT_ID, *args)
    assert len(refused.requests) == 1
    with pytest.raises(ConfigurationError):
        getattr(Ghl([httpx.Response(401, json={})]).writer(), call)(CONTACT_ID, *args)


def test_it_is_the_port():
    writer: GhlContactWriter = Ghl(lambda m, p, b: ok()).writer()  # mypy checks the Protocol
    assert isinstance(writer, GhlContactWrites)
