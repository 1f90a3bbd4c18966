"""Fuzzing the status page: any cookie, form, query or content type, and never a 5xx, never data
without a session, never an action without session and CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.inbound.admin_session import SessionKeys
from tests.support.service import ADMIN_TOKEN, Service

FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)
GOOD = SessionKeys(ADMIN_TOKEN).issue(datetime.now(UTC))
cookies = st.one_of(
    printable,
    printable.map(lambda v: f"admin_session={v}"),
    st.integers(0, len(GOOD) - 1).map(lambda i: f"admin_session={GOOD[:i]}{GOOD[i + 1 :]}"),
    st.just(f"admin_session={GOOD.replace('v1.', 'v1.9', 1)}"),
)
bodies = st.one_of(
    st.binary(max_size=2_000),
    st.dictionaries(st.sampled_from(["csrf", "confirm", "mode", "token"]), printable).map(
        lambda d: "&".join(f"{k}={quote(v)}" for k, v in d.items()).encode()
    ),
    st.just(b"a=" + b"x" * 20_000),
)
routes = st.sampled_from(
    ["/admin/login", "/admin/logout", "/admin/run", "/admin/redrive", "/admin", "/admin/contact"]
)
content_types = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data"]
)


@FUZZ
@given(route=routes, cookie=cookies, body=bodies, query=printable, content_type=content_types)
def test_the_page_never_5xx_and_shows_or_does_nothing_without_a_session(
    service: Service, route: str, cookie: str, body: bytes, query: str, content_type: str
):
    headers = {"Cookie": cookie, "Content-Type": content_type}
    if route in ("/admin", "/admin/contact"):
        reply = service.client.http.get(
            f"{route}?q={quote(query)}&notice={quote(query)}", headers=headers
        )
    else:
        reply = service.client.http.post(route, headers=headers, body=body)
    assert reply.status_code in (200, 303, 400, 401, 403, 415, 429)
    page = reply.body.decode() if isinstance(reply.body, bytes) else str(reply.body)
    assert 'id="health"' not in page and 'id="explanation"' not in page
    assert service.container.run_store.last_run_id() is None
