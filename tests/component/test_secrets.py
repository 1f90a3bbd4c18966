"""Deployed stages read secrets from Secrets Manager at run time; rotation needs no redeploy."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.runtime import wiring
from tests.support.helpers import fixture
from tests.support.service import Service


def test_workflow_secret_and_admin_token_come_from_secrets_manager_and_rotate(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="ghl-calltools/test/workflow", SecretString="first-secret")
    sm.create_secret(Name="ghl-calltools/test/admin", SecretString="admin-from-sm")
    monkeypatch.setenv("GHL_WORKFLOW_SECRET_SECRET_ID", "ghl-calltools/test/workflow")
    monkeypatch.setenv("ADMIN_API_TOKEN_SECRET_ID", "ghl-calltools/test/admin")
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "0")  # no caching, to see the rotation at once
    wiring.reset()
    body = fixture("ghl/workflow-webhook.json")

    def post(secret: str) -> int:
        status: int = service.post(body, {"X-Webhook-Secret": secret}, sign=False).status_code
        return status

    assert post("first-secret") == 200
    assert post("wf-secret-for-tests") == 401  # the plain setting is overridden
    sm.put_secret_value(SecretId="ghl-calltools/test/workflow", SecretString="rotated")
    assert post("first-secret") == 401 and post("rotated") == 200
    assert service.admin("get", "/sync/stats", token="admin-from-sm").status_code == 200
    assert service.admin("get", "/sync/stats").status_code == 401
