"""Guessing the admin token: more than 5 wrong tokens from one address within 15 minutes → 429,
even for the right token. A module (and stack) of its own: the block lasts the window."""

from __future__ import annotations

from tests.browser.admin import AdminPage


def test_the_sixth_wrong_token_is_refused_with_429_and_then_the_right_one_too(admin: AdminPage):
    # The throttle counts in fixed 15-minute windows (the lead's design): a run straddling a
    # window's edge would need a sixth more; these attempts take about a second.
    for attempt in range(5):
        refused = admin.login(f"wrong-token-{attempt}")
        assert refused.status == 401, attempt
        assert admin.shows_login_only()
        assert "wrong token" in admin.text("#login-error").lower()
    blocked = admin.login("wrong-token-5")
    assert blocked.status == 429
    assert admin.shows_login_only()
    assert "too many" in admin.text("#login-error").lower()
    right = admin.login()
    assert right.status == 429 and "set-cookie" not in right.all_headers()
    assert admin.session() is None
    assert admin.open("/admin").status == 200 and admin.shows_login_only()
