"""The `/admin` dashboard in a browser, logged in: counts per bucket after a webhook, a contact
found and explained, a name holding a script shown as text, a run started and followed to its
end, a dead letter redriven. Every value is read from the page by the contract's ids and classes
and checked against the stack itself."""

from __future__ import annotations

import re
from datetime import datetime

import httpx

from tests.blackbox.stack import COLD_LEADS, Stack, wait_for
from tests.browser.admin import AdminPage, dead_letter, in_ghl, integer, sync_through_webhook
from tests.support.helpers import Signer


def logged_in(admin: AdminPage) -> AdminPage:
    assert admin.login().status == 303
    assert admin.page.url.endswith("/admin") and admin.has("#health"), "the dashboard next"
    return admin


def test_counts_per_bucket_follow_a_contact_synced_through_the_webhook(
    admin: AdminPage, stack: Stack, signer: Signer
):
    logged_in(admin)
    before = admin.bucket_counts().get("Cold Leads", 0)
    sync_through_webhook(stack, signer, "dashCount1", phone="+13125550121")
    counts = admin.reload_until(
        lambda: admin.bucket_counts().get("Cold Leads") == before + 1 and admin.bucket_counts(),
        20,
        "the dashboard to count the new contact",
    )
    assert counts == stack.stats()["contacts"]["in_bucket"]
    # a time, not "never": shown for a person, exact in the <time> element's datetime
    datetime.fromisoformat(str(admin.page.get_attribute("#last-webhook time", "datetime")))
    assert integer(admin.text("#queue-depth")) >= 0
    assert integer(admin.text("#dlq-depth")) == stack.stats()["dlq_depth"]
    assert admin.text("#error-rate")


def test_a_contact_found_by_id_is_explained_with_its_history(
    admin: AdminPage, stack: Stack, signer: Signer
):
    sync_through_webhook(stack, signer, "dashSearch1", phone="+13125550122")
    logged_in(admin)
    response = admin.search("dashSearch1")
    assert response.status == 200 and "/admin/contact?q=dashSearch1" in response.url
    assert admin.text("#contact #contact-id") == "dashSearch1"
    assert admin.text("#contact #contact-status") == "synced"
    explanation = admin.text("#contact #explanation")
    assert explanation.startswith("In Cold Leads since")
    api = httpx.get(
        f"{stack.info['url']}/sync/contacts/dashSearch1", headers=stack.admin_headers(), timeout=10
    ).json()
    assert explanation == api["explanation"]
    decisions = admin.page.locator("#contact table#history tr.decision")
    assert decisions.count() == len(api["history"]) >= 1
    assert "synced" in decisions.first.inner_text()


def test_a_search_for_no_known_contact_says_so(admin: AdminPage):
    logged_in(admin)
    admin.search("neverSeenAnywhere7")
    assert "never seen" in admin.text("#contact #explanation").lower()
    assert not admin.has("#contact table#history tr.decision")
    admin.search("nobody.at.all@example.com")
    assert "nothing" in admin.text("#contact #explanation").lower()


SCRIPT_NAME = "<script>window.__xss=1</script>"


def test_a_name_holding_a_script_is_shown_as_text_and_never_run(
    admin: AdminPage, stack: Stack, signer: Signer
):
    email = "script.name@example.com"
    sync_through_webhook(
        stack,
        signer,
        "dashXss1",
        phone="+13125550123",
        firstName=SCRIPT_NAME,
        lastName="Tester",
        name=f"{SCRIPT_NAME} Tester",
        email=email,
    )
    logged_in(admin)
    # By id (the name may not be shown) and by email (GHL's search returns the name).
    for query, name_shown in (("dashXss1", False), (email, True)):
        admin.search(query)  # the contact page keeps the search form
        assert admin.has("#contact #contact-id"), f"no contact found for {query}"
        assert admin.text("#contact #contact-id") == "dashXss1", query
        names = admin.page.locator("#contact .contact-name").all_inner_texts()
        assert names or not name_shown, f"no .contact-name for {query}"
        assert all(SCRIPT_NAME in name for name in names), names
        assert admin.page.evaluate("typeof window.__xss") == "undefined"
        assert admin.page.locator("script").count() == 0
        if names:
            assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in admin.page.content()


def test_a_run_started_from_the_page_is_followed_to_its_end(admin: AdminPage, stack: Stack):
    # Enough tagged contacts for the run to last a couple of seconds.
    httpx.post(f"{stack.info['ghl_url']}/_sandbox/generate", json={"n": 30, "seed": 16}, timeout=10)
    before = stack.stats()["last_run"]
    logged_in(admin)
    assert admin.page.get_attribute("#current-run", "data-state") == "none"
    ended = admin.confirm("#run-submit")
    assert ended.status == 200 and ended.url.endswith("/admin?notice=run-started")
    assert admin.text("#notice") and "run-started" not in admin.text("#notice")
    progress: list[str] = []

    def finished() -> bool:
        state = admin.page.get_attribute("#current-run", "data-state")
        if state == "running":
            progress.append(admin.text("#run-progress"))
            assert admin.has('meta[http-equiv="refresh"]'), "the page refreshes while a run runs"
            return False
        assert state == "none", state
        assert not admin.has('meta[http-equiv="refresh"]')
        return admin.page.get_attribute("#last-run", "data-state") == "finished"

    # The page just after the start shows the run going; then it is reloaded to its end.
    assert not finished(), "the run is shown running just after it started"
    admin.reload_until(finished, 90, "the page to show the run finished")
    last = stack.stats()["last_run"]
    assert last["status"] == "finished" and last["id"] != (before or {}).get("id")
    assert last["id"] in admin.text("#last-run")
    assert progress and all(re.search(r"processed \d+ contacts", p) for p in progress), progress


def test_a_dead_letter_redriven_from_the_page_is_synced(admin: AdminPage, stack: Stack):
    in_ghl(stack, "dashDead1", phone="+13125550124")
    dead_letter(stack, "dashDead1", "CallTools unavailable (503)")
    logged_in(admin)
    depth = integer(admin.text("#dlq-depth"))
    assert depth == stack.stats()["dlq_depth"] >= 1
    letters = admin.page.locator("#dead-letters li.dead-letter")
    ids = [t.strip() for t in letters.locator(".contact-id").all_inner_texts()]
    assert "dashDead1" in ids
    reason = letters.nth(ids.index("dashDead1")).locator(".reason").inner_text()
    assert "CallTools unavailable" in reason
    ended = admin.confirm("#redrive-submit")
    assert ended.url.endswith(f"/admin?notice=redriven-{depth}")
    assert str(depth) in admin.text("#notice")
    assert integer(admin.text("#dlq-depth")) == 0
    assert not admin.has("#dead-letters li.dead-letter")

    def synced() -> bool:
        return any(
            c.get("ghl_contact_id") == "dashDead1" and COLD_LEADS in c.get("buckets", [])
            for c in stack.calltools_state()["contacts"]
        )

    wait_for(synced, 30, "the redriven contact in the Cold Leads bucket")
