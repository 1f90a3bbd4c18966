"""A full run's logs must not carry a raw phone number or email."""

from __future__ import annotations

import re

import pytest

from tests.support.helpers import fixture, ghl_event, tagged
from tests.support.service import WORKFLOW_SECRET, Service

PHONES = ["+13125550147", "3125550147", "+14155550132"]
EMAILS = ["avery.lindqvist@example.com", "marcus.oduya@example.com"]


def test_logs_of_a_full_run_mask_phones_and_emails(
    service: Service,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    logs_on_stdout: None,
):
    service.post(tagged("cold lead"))
    service.drain()
    service.post(tagged("cold lead", id="other", phone="+14155550132", email=EMAILS[1]))
    service.post(ghl_event("ContactDndUpdate"))
    service.post(b"{broken")
    service.post(fixture("ghl/workflow-webhook.json"), {"X-Webhook-Secret": "wrong"}, sign=False)
    service.post(
        fixture("ghl/workflow-webhook.json"), {"X-Webhook-Secret": WORKFLOW_SECRET}, sign=False
    )
    service.calltools.undialable_prefixes = ("+1415555",)
    service.calltools.script_faults(["502_html", "429"])
    service.drain()
    captured = capsys.readouterr()  # read once: a second read returns nothing
    text = captured.out + captured.err + caplog.text
    for line in ("contact synced", "failed permanently", "webhook refused", "retrying"):
        assert line in text  # the run really went through these paths
        assert line in captured.out + captured.err  # and the printed lines were read
    assert '"contact_id":"other"' in captured.out.replace(" ", "")  # extra fields too
    for secret in [*PHONES, *EMAILS, WORKFLOW_SECRET]:
        assert secret not in text
    assert not re.search(r"\+1\d{10}", text)
