"""Driving `/admin` through the Chalice test client: sign in, get, post a form, read the page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.support.service import ADMIN_TOKEN, Service

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def text(reply: Any) -> str:
    body = reply.body
    return body.decode() if isinstance(body, bytes) else str(body)


def login(service: Service, token: str = ADMIN_TOKEN) -> Any:
    return service.client.http.post(
        "/admin/login", headers=FORM, body=urlencode({"token": token}).encode()
    )


def cookie_of(reply: Any) -> str:
    return str(reply.headers["Set-Cookie"]).split(";")[0]


def get(service: Service, path: str, cookie: str | None = None) -> Any:
    return service.client.http.get(path, headers={"Cookie": cookie} if cookie else {})


def post(service: Service, path: str, cookie: str | None, **fields: str) -> Any:
    headers = {**FORM, **({"Cookie": cookie} if cookie else {})}
    return service.client.http.post(path, headers=headers, body=urlencode(fields).encode())


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)
