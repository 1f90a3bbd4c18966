"""CloudWatch metrics leave as EMF lines at the end of each invocation."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import tagged
from tests.support.service import Service


def emf_metrics(output: str) -> dict[str, float]:
    """Metric name → total of its values over every EMF document printed."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "GhlCallToolsSync"
            for metric in directive["Metrics"]:
                values = doc[metric["Name"]]
                total = sum(values) if isinstance(values, list) else values
                found[metric["Name"]] = found.get(metric["Name"], 0) + total
    return found


def test_webhook_and_sync_metrics_are_published(
    service: Service, capsys: pytest.CaptureFixture[str]
):
    service.post(tagged("cold lead"))
    service.post(b"not json")
    service.post(tagged("cold lead"), {"X-GHL-Signature": "forged"}, sign=False)
    service.calltools.script_faults(["502_html"])
    service.drain()
    found = emf_metrics(capsys.readouterr().out)
    assert found["WebhooksAccepted"] == 1
    assert found["WebhooksRejectedInvalid"] == 1
    assert found["WebhooksRejectedUnauthorized"] == 1
    assert found["ContactsSynced"] == 1 and found["BucketAdds"] == 1
    assert found["CallToolsApiRetries"] == 1 and found["CallToolsApiCalls"] >= 4
    assert 0 <= found["EndToEndLag"] < 60_000
