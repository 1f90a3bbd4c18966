"""`/admin` under attack: what a security review found, each pinned by a test (sessions, the
login throttle, the headers of every reply, what the page may show)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.admin_page import csrf_in, get, login, post, text
from tests.support.helpers import CONTACT_ID, tagged
from tests.support.service import Service

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def assert_security_headers(reply: Any) -> None:
    csp = str(reply.headers.get("Content-Security-Policy", ""))
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, reply.headers
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == value, (name, reply.headers)


@pytest.fixture
def session(service: Service) -> str:
    return str(login(service).headers["Set-Cookie"]).split(";")[0]


def test_an_unexpected_error_is_a_503_page_with_every_security_header(
    service: Service, session: str, monkeypatch: pytest.MonkeyPatch
):
    def broken() -> Any:
        raise RuntimeError("the state table is gone")

    monkeypatch.setattr(service.container.operator.admin_page, "_stats", broken)
    reply = get(service, "/admin", session)
    assert reply.status_code == 503 and "the state table is gone" not in text(reply)
    assert_security_headers(reply)


def test_a_notice_of_unicode_digits_is_ignored_not_a_503(service: Service, session: str):
    reply = get(service, "/admin?notice=redriven-%C2%B2", session)
    assert reply.status_code == 200 and 'id="notice"' not in text(reply)


def test_dead_letters_show_no_raw_phone_or_email(service: Service, session: str):
    reason = "CallTools POST contact: 422 +15551234567 is taken by jane.doe@example.com"
    service.container.queue.dead_letter('{"contact_id": "dead_1"}', reason)
    service.container.queue.dead_letter('{"contact_id": "+15557654321"}', "invalid message")
    page = text(get(service, "/admin", session))
    assert "dead_1" in page and "is taken by" in page
    for raw in ("5551234567", "jane.doe@", "5557654321"):
        assert raw not in page


def test_a_redriven_webhook_is_synced_not_taken_for_a_duplicate(service: Service, session: str):
    # The dead-lettered delivery left no dedup record behind: sent back, it is synced.
    service.calltools.undialable_prefixes = ("+1312555014",)
    service.post(tagged("cold lead"))
    service.drain()
    dlq = service.container.queue.dlq_url
    assert service.queue_depth(dlq) == 1 and not service.in_bucket(CONTACT_ID)
    service.calltools.undialable_prefixes = ()
    csrf = csrf_in(text(get(service, "/admin", session)))
    done = post(service, "/admin/redrive", session, csrf=csrf, confirm="yes")
    assert done.headers["Location"] == "/admin?notice=redriven-1"
    service.drain()
    assert service.in_bucket(CONTACT_ID) and service.queue_depth(dlq) == 0
