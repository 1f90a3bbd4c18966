"""The status page's parts without AWS: session cookies, CSRF, request parsing, URL base, notices."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.aws.throttle import source_of
from chalicelib.inbound.admin_session import SESSION_SECONDS, SessionKeys, set_cookie
from chalicelib.inbound.page_request import MAX_FORM_BYTES, PageRequest, url_base
from chalicelib.services.admin_page.dashboard import dashboard, notice_text
from chalicelib.services.admin_page.forms import confirm_page, error_page, login_page
from chalicelib.services.admin_page.html import CSP

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEYS = SessionKeys("the-admin-token")


def test_a_cookie_is_good_for_its_hour_only():
    cookie = KEYS.issue(NOW)
    assert KEYS.verify(cookie, NOW + timedelta(seconds=SESSION_SECONDS - 1)) is not None
    assert KEYS.verify(cookie, NOW + timedelta(seconds=SESSION_SECONDS + 1)) is None
    assert KEYS.verify(cookie, NOW - timedelta(minutes=5)) is None  # issued in the future


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # MAC changed
        lambda c: c.replace("v1.", "v2.", 1),
        lambda c: "v1." + str(int(NOW.timestamp()) + 60) + c[13:],  # time moved, MAC kept
        lambda c: c + ".x",
        lambda c: "",
        lambda c: "v1.abc.def.ghi",
        lambda c: c * 10,
        lambda c: "v1.\udcff.x.y",
        lambda c: "v1.1.\udcff.x",  # reaches the MAC: encoding it must not raise
        lambda c: c.replace("v1.", "v1.\u0661", 1),  # a digit to isdigit, not ASCII
    ],
)
def test_a_forged_or_malformed_cookie_is_no_session(mangle):
    assert KEYS.verify(mangle(KEYS.issue(NOW)), NOW) is None


def test_another_token_signs_sessions_this_one_refuses():
    assert KEYS.verify(SessionKeys("rotated").issue(NOW), NOW) is None


def test_the_csrf_token_belongs_to_one_session():
    one = KEYS.verify(KEYS.issue(NOW), NOW)
    two = KEYS.verify(KEYS.issue(NOW), NOW)
    assert one and two and one.nonce != two.nonce
    assert KEYS.csrf_matches(one, KEYS.csrf(one))
    assert not KEYS.csrf_matches(one, KEYS.csrf(two))
    assert not KEYS.csrf_matches(one, None) and not KEYS.csrf_matches(one, "")
    assert not KEYS.csrf_matches(one, "\udcff")
    assert not SessionKeys("rotated").csrf_matches(one, KEYS.csrf(one))


def test_the_cookie_is_strict_and_scoped_to_the_page():
    cookie = set_cookie("v", "/api")
    assert "Path=/api/admin;" in cookie
    assert all(a in cookie for a in ("HttpOnly", "Secure", "SameSite=Strict"))


def test_cookies_and_forms_are_parsed_strictly():
    request = PageRequest(
        headers={"Cookie": "a=1; admin_session=v1.2.3.4; other=x"},
        raw_body=b"csrf=abc&token=p%40ss&token=second",
    )
    assert request.cookie("admin_session") == "v1.2.3.4" and request.cookie("nope") is None
    assert request.form() == {"csrf": "abc", "token": "p@ss"}
    assert PageRequest(raw_body=b"x=" + b"a" * MAX_FORM_BYTES).form() == {}
    assert PageRequest(raw_body="&".join(f"f{i}=1" for i in range(50))).form() == {}
    assert PageRequest(raw_body=b"\xff\xfe=\x00").form() is not None


@pytest.mark.parametrize(
    ("path", "resource", "base"),
    [
        ("/admin", "/admin", ""),
        ("/api/admin/contact", "/admin/contact", "/api"),
        ("/v1/sync/admin", "/admin", "/v1/sync"),
        ("/a b/admin", "/admin", ""),  # not a plain path segment
        ('/"x/admin', "/admin", ""),
        ("/other", "/admin", ""),
        (None, "/admin", ""),
    ],
)
def test_the_url_base_is_what_api_gateway_put_before_the_route(path, resource, base):
    assert url_base(path, resource) == base


def test_every_link_and_form_carries_the_base():
    page = dashboard(
        {"contacts": {}, "failures": [{"contact_id": "c_1", "reason": "r", "at": None}]},
        [{"contact_id": "d1", "reason": "r"}],
        "f" * 64,
        base="/api",
    )
    assert page.count('action="/api/admin/') == 4 and 'href="/api/admin/contact?q=c_1"' in page
    assert 'action="/admin' not in page and 'href="/admin' not in page
    assert 'action="/api/admin/login"' in login_page("/api")


def test_only_known_notices_are_shown():
    assert notice_text("run-started") and notice_text("redriven-3") == (
        "3 dead letter(s) sent back to the queue."
    )
    for junk in ("<b>", "redriven-", "redriven-1x", "redriven-99999999999", "run-started "):
        assert notice_text(junk) is None


@pytest.mark.parametrize("digits", ["²", "١٢", "①", "𝟗"])
def test_a_notice_with_digits_other_than_ascii_is_no_notice(digits):
    # str.isdigit() accepts them and int() refuses some: the page answered 503 for them.
    assert notice_text(f"redriven-{digits}") is None


def test_a_run_error_and_dead_letters_are_shown_masked():
    failed_run = {
        "id": "r1",
        "status": "failed",
        "mode": "reconcile",
        "error": "PermanentError: GHL search: 422 +15551234567 / jane.doe@example.com",
    }
    page = dashboard(
        {"contacts": {}, "last_run": failed_run, "failures": []},
        [{"contact_id": "x@example.com", "reason": "refused +15557654321"}],
        "f" * 64,
    )
    assert "PermanentError: GHL search: 422" in page and "refused" in page
    for raw in ("5551234567", "jane.doe@", "5557654321", "x@example.com"):
        assert raw not in page
    assert 'href="/admin/contact?q=x' not in page  # no link made of what is no contact id


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # not every IPv4 client in ::/64
        ("unknown", "unknown"),
    ],
)
def test_the_throttle_counts_an_ipv6_client_by_its_network(address, source):
    assert source_of(address) == source


def test_the_csp_allows_exactly_the_style_block_each_page_carries():
    pages = [
        login_page("", "Wrong token."),
        error_page("", "x"),
        confirm_page("", "/admin/run", "Start?", "f" * 64, {"mode": "reconcile"}),
        dashboard({"contacts": {}, "current_run": {"id": "r"}}, [], "f" * 64),
    ]
    for page in pages:
        styles = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert len(styles) == 1 and "style=" not in page and "<script" not in page
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}';" in CSP
