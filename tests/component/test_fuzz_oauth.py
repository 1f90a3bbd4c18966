"""Fuzzing the OAuth callback: whatever the query, the answer is a page and never a 5xx but 503
(GHL did not answer, or OAuth is off), nothing is registered by a code GHL did not issue, and no
query text reaches the page unescaped."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.runtime import wiring
from tests.support.service import Service

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
values = (
    st.text(max_size=60)
    | st.from_regex(r"[A-Za-z0-9._~+/=-]{8,80}", fullmatch=True)
    | st.sampled_from(["<script>x</script>", "%00", "a" * 3000, ""])
)
queries = st.dictionaries(
    st.sampled_from(["code", "error", "state", "locationId", "x"]) | st.text(max_size=10),
    values,
    max_size=4,
)


@pytest.fixture
def configured(service: Service, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv("GHL_OAUTH_CLIENT_ID", service.ghl.client_id)
    monkeypatch.setenv("GHL_OAUTH_CLIENT_SECRET", service.ghl.client_secret)
    monkeypatch.setenv("GHL_APP_ID", service.ghl.app_id)
    service.container = wiring.reset()
    yield service


def secrets_written() -> int:
    return len(boto3.client("secretsmanager", region_name="us-east-1").list_secrets()["SecretList"])


@FUZZ
@given(query=queries)
def test_any_query_is_a_page_never_a_5xx_but_503(configured: Service, query: dict[str, str]):
    response = configured.client.http.get(f"/oauth/callback?{urlencode(query)}")
    # 400: no code here was issued by GHL (so nothing is registered either).
    assert response.status_code in (400, 503), response.body
    assert b"<script>" not in response.body
    assert secrets_written() == 0


@FUZZ
@given(query=queries)
def test_off_it_is_always_503(service: Service, query: dict[str, str]):
    response = service.client.http.get(f"/oauth/callback?{urlencode(query)}")
    assert response.status_code == 503
