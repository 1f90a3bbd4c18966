"""LocationAdmin over in-memory ports, and a PUT body, shared by the admin API's unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.location import BuiltinLocation
from chalicelib.domain.rules import Rule
from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.locations import LocationAdmin
from chalicelib.services.replies import HttpReply
from tests.support.fake_locations import (
    FakeLocationRegistry,
    FakeLocationSecrets,
    ScriptedTokenChecks,
)

ADMIN = "adm1n-t0ken"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
BUILTIN = "Lc9Xw2TqB7mR4dNs8KfA"
LOC = "Other0Location0Id001"
URL = "https://west-2.calltools.io/api/"
GHL_TOKEN, CT_TOKEN = "pit-9f8e7d6c-ghl", "ct-key-5b4a3c2d"
TOKENS = (GHL_TOKEN, CT_TOKEN)


class World:
    """`local_urls`: as in the local stack (loopback http allowed), else as deployed."""

    def __init__(self, *, local_urls: bool = False) -> None:
        self.registry = FakeLocationRegistry()
        self.secrets = FakeLocationSecrets()
        self.checks = ScriptedTokenChecks({GHL_TOKEN: LOC}, {CT_TOKEN: URL})
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        self.admin = LocationAdmin(
            AdminBearer(ADMIN),
            registry=lambda: self.registry,
            secrets=lambda: self.secrets,
            checks=lambda: self.checks,
            builtin=BuiltinLocation(BUILTIN, URL, (Rule(tag="cold lead", bucket="Cold Leads"),)),
            clock=lambda: self.now,
            local_urls=local_urls,
        )

    def put(self, body: Any, location_id: str = LOC, headers: dict[str, str] = AUTH) -> HttpReply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.admin.put(headers, location_id, raw)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Acme Roofing",
        "ghl_api_token": GHL_TOKEN,
        "calltools_api_base_url": URL,
        "calltools_api_token": CT_TOKEN,
        "rules": [{"tag": "cold lead", "bucket": "Dialer A"}],
    } | changes
