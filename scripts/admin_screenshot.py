"""Pictures of the `/admin` status page for the docs: docs/admin-page.png (desktop width) and
docs/admin-page-phone.png (390×844), from a local stack holding invented data.

    .venv/bin/python -m scripts.admin_screenshot [--out-dir docs]

Starts `python -m sandbox` (tests/blackbox/stack.py) with three rules, fills it through its own
paths: a backfill run over invented GHL contacts in three buckets (555-01xx phones, example.com
emails, made by the GHL sandbox), then signed webhooks for a contact DND for calls and one whose
bucket removal CallTools refuses (a failed contact), and a contact's message in the DLQ. Then
it logs in through Debian's chromium (headless) and takes both pictures. It stops, saying why,
when chromium is missing or the page does not show the dashboard (no /admin in this checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from chalicelib.domain.messages import SyncMessage
from tests.blackbox.stack import ROOT, Stack, running_stack, wait_for
from tests.support.helpers import Signer, ghl_event, tagged

CHROMIUM = "/usr/bin/chromium"
RULES = [
    {"tag": "cold lead", "bucket": "Cold Leads"},
    {"tag": "warm lead", "bucket": "Warm Leads"},
    {"tag": "callback", "bucket": "Callbacks"},
]
GENERATED = {"cold lead": 21, "warm lead": 9, "callback": 5}  # contacts per tag, made by GHL
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class Refused(SystemExit):
    """Stop with a message and exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"admin_screenshot: {message}")


@contextmanager
def local_stack() -> Iterator[tuple[Stack, Signer]]:
    # The stack reads its rules from the environment this process passes on to it.
    os.environ["SYNC_RULES"] = json.dumps(RULES)
    signer = Signer()
    with (
        tempfile.TemporaryDirectory(prefix="admin-screenshot-") as state_dir,
        running_stack(Path(state_dir), signer) as stack,
    ):
        yield stack, signer


def admin_post(stack: Stack, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        stack.info["url"] + path, json=body, headers=stack.admin_headers(), timeout=30
    )


def backfill(stack: Stack) -> None:
    """Invented contacts in GHL, then a backfill run to put them in their buckets."""
    for seed, (tag, count) in enumerate(GENERATED.items(), start=1):
        reply = httpx.post(
            f"{stack.info['ghl_url']}/_sandbox/generate",
            json={"n": count, "tag": tag, "seed": seed},
            timeout=30,
        )
        reply.raise_for_status()
    started = admin_post(stack, "/sync/trigger", {"mode": "backfill"})
    if started.status_code != 202:
        raise Refused(f"the backfill did not start: {started.status_code} {started.text}")

    def run_done() -> bool:
        stats = stack.stats()
        last = stats["last_run"] or {}
        return stats["current_run"] is None and last.get("status") == "finished"

    wait_for(run_done, 120, "the backfill run to finish")
    wait_for(stack.queue_empty, 120, "the backfilled contacts to be synced")


def in_calltools(stack: Stack, ghl_id: str) -> bool:
    return any(c.get("ghl_contact_id") == ghl_id for c in stack.calltools_state()["contacts"])


def webhook_contacts(stack: Stack, signer: Signer) -> None:
    """A contact DND for calls, and one whose bucket removal CallTools refuses (failed)."""
    person: dict[str, Any] = {"phone": "+13125550190", "companyName": "Okafor Roofing"}
    dnd = tagged("cold lead", id="dndExample0001", firstName="Nia", lastName="Okafor", **person)
    dnd["dndSettings"] = {"Call": {"status": "active", "message": "", "code": ""}}
    dnd["email"] = "nia.okafor@example.com"
    assert stack.post(dnd, signer).status_code == 200
    ghl_id = "failedExample01"
    leaving: dict[str, Any] = {
        "firstName": "Theo",
        "lastName": "Marchetti",
        "email": "theo.marchetti@example.com",
    }
    body = tagged("cold lead", id=ghl_id, phone="+13125550191", **leaving)
    assert stack.post(body, signer).status_code == 200
    wait_for(lambda: in_calltools(stack, ghl_id), 30, "the contact to fail in CallTools")
    # From now on CallTools refuses bucket removals (kept for the pictures' sake): untagged,
    # the contact cannot leave its bucket, and its sync is recorded as failed.
    config = httpx.post(
        f"{stack.calltools_admin}/_sandbox/config", json={"refuse_removals": True}, timeout=5
    )
    config.raise_for_status()
    untagged = ghl_event("ContactTagUpdate", id=ghl_id, phone="+13125550191", tags=[], **leaving)
    assert stack.post(untagged, signer).status_code == 200
    wait_for(lambda: stack.stats()["contacts"]["failed"] >= 1, 30, "the failed contact")
    wait_for(lambda: stack.stats()["contacts"]["dnd_excluded"] >= 1, 30, "the DND contact")


def dead_letter(stack: Stack) -> None:
    """A contact's sync message in the DLQ with its reason, as the consumer leaves one after
    CallTools failed it on every receive (put there directly: the sandbox fails no call alone)."""
    message = SyncMessage(
        origin="marketplace", contact_id="dlqExample0001", received_at=datetime.now(UTC)
    )
    reason = "CallTools unavailable: 503 Service Unavailable after 5 receives"
    stack.sqs().send_message(
        QueueUrl=stack.info["dlq_url"],
        MessageBody=message.model_dump_json(),
        MessageAttributes={"failure_reason": {"DataType": "String", "StringValue": reason}},
    )
    wait_for(lambda: stack.stats()["dlq_depth"] >= 1, 30, "the dead letter")


def pictures(stack: Stack, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    url, token = stack.info["url"], stack.info["admin_token"]
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for name, viewport, scale in (
            ("admin-page.png", DESKTOP, 1),
            ("admin-page-phone.png", PHONE, 2),
        ):
            context = browser.new_context(
                base_url=url,
                viewport={"width": viewport["width"], "height": viewport["height"]},
                device_scale_factor=scale,
                is_mobile=viewport is PHONE,
            )
            page = context.new_page()
            first = page.goto("/admin")
            if first is None or not page.locator("form#login").count():
                status = first.status if first else "no response"
                raise Refused(
                    f"GET /admin answered {status} without the login form: "
                    "is the status page in this checkout?"
                )
            page.fill("#token", token)
            with page.expect_navigation():
                page.click("#login-submit")
            if not page.locator("#health").count():
                raise Refused("logging in did not show the dashboard (no #health on the page)")
            wide = int(page.evaluate("document.documentElement.scrollWidth"))
            if wide > viewport["width"]:
                print(f"warning: the page is {wide} px wide on a {viewport['width']} px screen")
            path = out_dir / name
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            if viewport is DESKTOP:  # and one contact explained, found by email
                page.fill("#q", "nia.okafor@example.com")
                with page.expect_navigation():
                    page.click("#search-submit")
                path = out_dir / "admin-contact.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
        browser.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        raise Refused(f"no {CHROMIUM}: install Debian's chromium (sudo apt-get install chromium)")
    try:
        import playwright  # noqa: F401 - only to say what is missing
    except ImportError:
        raise Refused("playwright is not installed: `make venv` installs it") from None
    with local_stack() as (stack, signer):
        print(f"local stack at {stack.info['url']}: filling it with invented data", flush=True)
        backfill(stack)
        webhook_contacts(stack, signer)
        dead_letter(stack)
        for path in pictures(stack, args.out_dir):
            print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
