"""`/admin` through the Chalice app (moto + sandboxes), without a browser: sessions, CSRF, the
login throttle, the headers, escaping, and that the page's data and actions are the real ones.
The browser drives the same page in tests/browser/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from chalicelib.domain.state import ContactState
from chalicelib.inbound.admin_session import SessionKeys
from tests.support.admin_page import cookie_of, csrf_in, get, login, post, text
from tests.support.helpers import CONTACT_ID, tagged
from tests.support.service import ADMIN_TOKEN, Service


@pytest.fixture
def session(service: Service) -> str:
    reply = login(service)
    assert reply.status_code == 303 and reply.headers["Location"] == "/admin"
    return cookie_of(reply)


def test_without_a_session_the_page_is_the_login_form_and_holds_no_data(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    reply = get(service, "/admin")
    page = text(reply)
    assert reply.status_code == 200 and 'id="login"' in page
    assert 'id="health"' not in page and "Cold Leads" not in page and CONTACT_ID not in page


def test_the_right_token_gives_a_strict_session_cookie(service: Service):
    reply = login(service)
    cookie = str(reply.headers["Set-Cookie"])
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/admin", "Max-Age=3600"):
        assert attribute in cookie


def test_every_page_sets_a_csp_with_no_script_source(service: Service, session: str):
    for reply in (get(service, "/admin"), get(service, "/admin", session), login(service, "x")):
        csp = str(reply.headers["Content-Security-Policy"])
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script" not in text(reply)


def test_the_dashboard_shows_counts_health_and_the_latest_failure(service: Service, session: str):
    service.post(tagged("cold lead"))
    service.drain()
    page = text(get(service, "/admin", session))
    assert re.search(r'data-bucket="Cold Leads"><td>Cold Leads</td><td class="count">1<', page)
    assert re.search(r'id="dlq-depth">0<', page) and re.search(r'id="queue-depth">0<', page)
    assert re.search(r'id="last-webhook"><time datetime="20[^"]+">20[\d-]+ [\d:]+ UTC<', page)
    assert 'id="current-run" data-state="none"' in page


def test_outside_text_is_escaped(service: Service, session: str):
    now = datetime.now(UTC)
    hostile = "<script>window.__xss=1</script>"
    service.container.state_store.save(
        ContactState(contact_id="hostile_1", status="failed", reason=hostile, updated_at=now)
    )
    page = text(get(service, "/admin", session))
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "<script>" not in page


def test_a_wrong_token_is_401_and_the_sixth_within_the_window_is_429(service: Service):
    for _ in range(5):
        reply = login(service, "wrong")
        assert reply.status_code == 401 and 'id="login-error"' in text(reply)
    blocked = login(service)  # even the right token waits out the window
    assert blocked.status_code == 429 and "Set-Cookie" not in blocked.headers


def test_forged_and_expired_cookies_get_the_login_page(service: Service, session: str):
    name, value = session.split("=", 1)
    forged = f"{name}={value[:-4]}abcd"
    old = SessionKeys(ADMIN_TOKEN).issue(datetime.now(UTC) - timedelta(hours=2))
    other = SessionKeys("another-token").issue(datetime.now(UTC))
    for cookie in (forged, f"{name}={old}", f"{name}={other}", f"{name}="):
        page = text(get(service, "/admin", cookie))
        assert 'id="login"' in page and 'id="health"' not in page


def test_a_post_without_the_csrf_token_does_nothing(service: Service, session: str):
    for fields in ({}, {"confirm": "yes"}, {"confirm": "yes", "csrf": "0" * 64}):
        reply = post(service, "/admin/run", session, **fields)
        assert reply.status_code == 403 and 'id="error"' in text(reply)
    assert service.container.run_store.active_run_id() is None
    assert service.container.run_store.last_run_id() is None


def test_a_post_without_a_session_is_401_and_does_nothing(service: Service, session: str):
    csrf = csrf_in(text(get(service, "/admin", session)))
    reply = post(service, "/admin/run", None, csrf=csrf, confirm="yes")
    assert reply.status_code == 401 and 'id="login"' in text(reply)
    assert service.container.run_store.last_run_id() is None


def test_a_run_starts_after_its_confirmation(service: Service, session: str):
    csrf = csrf_in(text(get(service, "/admin", session)))
    confirm = post(service, "/admin/run", session, csrf=csrf)
    assert confirm.status_code == 200 and 'id="confirm"' in text(confirm)
    assert service.container.run_store.last_run_id() is None
    started = post(service, "/admin/run", session, csrf=csrf, confirm="yes", mode="reconcile")
    assert started.headers["Location"] == "/admin?notice=run-started"
    run_id = service.container.run_store.active_run_id()
    assert run_id and service.container.run_store.get(run_id).trigger == "page"  # type: ignore[union-attr]
    page = text(get(service, "/admin?notice=run-started", session))
    assert 'id="notice"' in page and 'id="current-run" data-state="running"' in page
    assert '<meta http-equiv="refresh"' in page
    again = post(service, "/admin/run", session, csrf=csrf, confirm="yes")
    assert again.headers["Location"] == "/admin?notice=run-active"


def test_a_dead_letter_is_shown_and_redriven(service: Service, session: str):
    service.container.queue.dead_letter('{"contact_id": "dead_1"}', "CallTools said no")
    page = text(get(service, "/admin", session))
    assert re.search(r'id="dlq-depth">1<', page) and "dead_1" in page
    csrf = csrf_in(page)
    done = post(service, "/admin/redrive", session, csrf=csrf, confirm="yes")
    assert done.status_code == 303 and done.headers["Location"] == "/admin?notice=redriven-1"
    assert service.queue_depth(service.container.queue.dlq_url) == 0


def test_a_notice_outside_the_list_is_not_shown(service: Service, session: str):
    page = text(get(service, "/admin?notice=%3Cb%3Ehi", session))
    assert 'id="notice"' not in page and "hi" not in page.split("</header>")[1][:40]


def test_a_contact_search_by_id_shows_its_explanation(service: Service, session: str):
    service.post(tagged("cold lead"))
    service.drain()
    page = text(get(service, f"/admin/contact?q={CONTACT_ID}", session))
    found = re.search(r'id="explanation">([^<]*)<', page)
    assert found and found.group(1).startswith("In Cold Leads since ")
    assert 'id="history"' in page and 'class="decision"' in page
    never = text(get(service, "/admin/contact?q=never_seen_1", session))
    assert "Never seen" in never


def test_a_search_by_email_shows_the_name_as_text_and_never_the_raw_email(
    service: Service, session: str
):
    email = "hostile.name@example.com"
    name = "<script>window.__xss=1</script>"
    service.ghl.upsert_contact({"id": "hostile0000000000001", "email": email, "firstName": name})
    page = text(get(service, f"/admin/contact?q={quote(email)}", session))
    assert 'class="contact-name">&lt;script&gt;window.__xss=1&lt;/script&gt;' in page
    assert "<script" not in page and email not in page
    assert re.search(r'id="explanation">Never seen:', page)


def test_a_search_that_is_no_id_phone_or_email_says_so(service: Service, session: str):
    page = text(get(service, f"/admin/contact?q={quote('not a thing!')}", session))
    assert re.search(r'id="explanation">That is not a GHL contact id', page)


def test_a_search_while_ghl_is_down_says_try_again(service: Service, session: str):
    service.ghl.set_fault_rate(1.0, ["503_html"])
    reply = get(service, "/admin/contact?q=someone%40example.com", session)
    assert reply.status_code == 200 and "try again in a minute" in text(reply)
    assert 'id="health"' in text(reply)  # the rest of the page stays


def test_a_search_without_a_session_shows_no_contact(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    page = text(get(service, f"/admin/contact?q={CONTACT_ID}", None))
    assert 'id="login"' in page and "Cold Leads" not in page and 'id="explanation"' not in page


def test_logout_clears_the_cookie(service: Service, session: str):
    csrf = csrf_in(text(get(service, "/admin", session)))
    reply = post(service, "/admin/logout", session, csrf=csrf)
    assert reply.status_code == 303 and "Max-Age=0" in str(reply.headers["Set-Cookie"])


def test_without_an_admin_token_the_page_is_off(service: Service, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service.container.operator.admin_page, "_token", "")
    assert get(service, "/admin").status_code == 503
    assert login(service, "").status_code == 503
