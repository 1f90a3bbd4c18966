"""Fuzzing the location routes: no input produces a 5xx, nothing is registered without the admin
token, and no reply ever holds a token it was given.

The token checks reach only the loopback sandboxes: no fuzzed base URL is https (that would be a
real host); everything else about the body is anything at all.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.service import ADMIN_TOKEN, Service

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
KEYS = [
    "name",
    "ghl_api_token",
    "calltools_api_base_url",
    "calltools_api_token",
    "rules",
    "pacing",
    "fields",
]
no_https = json_values.filter(lambda v: not (isinstance(v, str) and "https" in v.lower()))
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
unauthenticated = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": header_values.map(lambda v: f"Bearer {v}"),
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/octet-stream"]
        ),
    },
)
ids = st.text(min_size=1, max_size=80) | st.from_regex(r"[A-Za-z0-9]{1,64}", fullmatch=True)
TOKENS = ("fuzz-ghl-t0ken", "fuzz-ct-t0ken")


def valid(service: Service) -> dict[str, Any]:
    return {
        "name": "Fuzzed",
        "ghl_api_token": TOKENS[0],
        "calltools_api_base_url": service.calltools.base_url,
        "calltools_api_token": TOKENS[1],
        "rules": [{"tag": "cold lead", "bucket": "Cold Leads"}],
    }


def registered() -> int:
    return len(boto3.client("secretsmanager", region_name="us-east-1").list_secrets()["SecretList"])


@FUZZ
@given(
    location_id=ids,
    body=st.binary(max_size=1_000) | json_values.map(lambda v: json.dumps(v).encode()),
    headers=unauthenticated,
    method=st.sampled_from(["get", "put", "delete"]),
)
def test_unauthenticated_location_routes_never_5xx_and_change_nothing(
    service: Service, location_id: str, body: bytes, headers: dict[str, str], method: str
):
    path = f"/locations/{quote(location_id, safe='')}"
    response = getattr(service.client.http, method)(path, headers=headers, body=body)
    assert response.status_code in (401, 404, 415)  # 404: an id that is no path segment
    assert service.client.http.get("/locations", headers=headers).status_code in (401, 415)
    assert registered() == 0


@FUZZ
@given(
    location_id=ids,
    changes=st.dictionaries(st.sampled_from([*KEYS, "extra"]), no_https, max_size=3),
    dropped=st.sets(st.sampled_from(KEYS), max_size=2),
    garbage=st.none() | st.binary(max_size=500),
)
def test_authenticated_garbage_never_5xx_and_never_echoes_a_token(
    service: Service,
    location_id: str,
    changes: dict[str, Any],
    dropped: set[str],
    garbage: bytes | None,
):
    body = {k: v for k, v in (valid(service) | changes).items() if k not in dropped}
    raw = garbage if garbage is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
    path = f"/locations/{quote(location_id, safe='')}"
    response = service.client.http.put(path, headers=headers, body=raw)
    # 422: the sandboxes know neither fuzz token; 409: the environment's location id.
    assert response.status_code in (400, 404, 409, 413, 422), response.body
    assert not any(token.encode() in response.body for token in TOKENS)
    assert service.client.http.get(path, headers=headers).status_code in (200, 400, 404)
    assert registered() == 0
