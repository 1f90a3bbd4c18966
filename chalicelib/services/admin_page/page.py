"""`/admin`: the status page's routes. Sessions, CSRF and the login throttle are checked here,
before anything is read or done; the pages themselves are in dashboard.py, forms.py, contact_view.py.

Fail closed: no admin token configured → 503 on every route; no valid session → the login page
(which shows no data) and nothing done; a POST without its session's CSRF token → 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.runs import RunActive
from chalicelib.domain.time import utcnow
from chalicelib.inbound.admin_session import (
    COOKIE_NAME,
    Session,
    SessionKeys,
    clear_cookie,
    same,
    set_cookie,
)
from chalicelib.inbound.page_request import PageRequest, url_base
from chalicelib.inbound.webhook_auth import Secret, reveal
from chalicelib.ports import DeadLetters, LoginThrottle, RunStarter, StatsSource
from chalicelib.runtime.observability import logger
from chalicelib.services.admin_page.contact_view import contact_section
from chalicelib.services.admin_page.dashboard import dashboard, notice_text
from chalicelib.services.admin_page.forms import confirm_page, error_page, login_page
from chalicelib.services.admin_page.html import HEADERS
from chalicelib.services.lookup import InvalidQuery, LookupUnavailable
from chalicelib.services.replies import PageReply

__all__ = [
    "AdminPage",
    "ContactFinder",
    "PageRequest",
    "unavailable",
    "url_base",
]  # app.py builds the request it takes, and answers `unavailable` when a route fails

# Finds the contacts a search names (an id, a phone or an email) and explains each: services/lookup.py.
ContactFinder = Callable[[str], dict[str, Any]]

DEAD_LETTERS_SHOWN = 10
REDRIVE_PER_CLICK = 100  # press again for more
# The API function has 10 s (API Gateway 29 s): a redrive starts no batch after 5 s, and its
# last receive may wait 1 s more.
REDRIVE_SECONDS = 5.0
MAX_QUERY = 200
NOT_A_QUERY = "That is not a GHL contact id, a phone number or an email address."
GHL_DOWN = "GHL's search did not answer: try again in a minute."
OFF = "The status page is off: ADMIN_API_TOKEN is not set."
EXPIRED = "This form has expired: reload the page and try again."
UNAVAILABLE = "Unavailable: try again shortly."
SIGN_IN_OFF = "Signing in is unavailable: try again in a minute."


def _page(status: int, html: str, **extra: str) -> PageReply:
    return PageReply(status, html, {**HEADERS, **extra})


def unavailable(base: str = "") -> PageReply:
    """What a route that failed unexpectedly answers: a 503 page with the same headers as any."""
    return _page(503, error_page(base, UNAVAILABLE))


def _redirect(location: str, **extra: str) -> PageReply:
    """A 303 to `location`, a path that already carries the request's base."""
    return PageReply(303, "", {**HEADERS, "Location": location, **extra})


class AdminPage:
    def __init__(
        self,
        token: Secret,
        *,
        stats: Callable[[], StatsSource],
        dead_letters: Callable[[], DeadLetters],
        runs: Callable[[], RunStarter],
        find: Callable[[], ContactFinder],
        throttle: Callable[[], LoginThrottle],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._token = token
        self._stats = stats
        self._dead_letters = dead_letters
        self._runs = runs
        self._find = find
        self._throttle = throttle
        self._clock = clock

    # --- guards ---------------------------------------------------------------------------------
    def _keys(self) -> SessionKeys | None:
        token = reveal(self._token)
        return SessionKeys(token) if token.strip() else None

    def _guard(
        self, request: PageRequest, *, post: bool
    ) -> tuple[SessionKeys, Session] | PageReply:
        """The keys and session of a request allowed to see or do something, or the refusal."""
        keys = self._keys()
        if keys is None:
            return _page(503, error_page(request.base, OFF))
        session = keys.verify(request.cookie(COOKIE_NAME), self._clock())
        if session is None:
            return _page(401 if post else 200, login_page(request.base))
        if post and not keys.csrf_matches(session, request.form().get("csrf")):
            return _page(403, error_page(request.base, EXPIRED))
        return keys, session

    # --- routes ---------------------------------------------------------------------------------
    def show(self, request: PageRequest) -> PageReply:
        guarded = self._guard(request, post=False)
        if isinstance(guarded, PageReply):
            return guarded
        return self._dashboard(request, *guarded)

    def contact(self, request: PageRequest) -> PageReply:
        guarded = self._guard(request, post=False)
        if isinstance(guarded, PageReply):
            return guarded  # nothing is looked up without a session
        query = request.param("q")[:MAX_QUERY]
        try:
            found = self._find()(query)
        except InvalidQuery:
            section = contact_section("", [], problem=NOT_A_QUERY)
        except LookupUnavailable:
            section = contact_section("", [], problem=GHL_DOWN)
        else:
            # The search is shown as the lookup masked it: the page never repeats a phone or email.
            shown = str((found.get("query") or {}).get("masked") or "")
            section = contact_section(shown, found.get("matches") or [])
        return self._dashboard(request, *guarded, contact_html=section)

    def _dashboard(
        self, request: PageRequest, keys: SessionKeys, session: Session, contact_html: str = ""
    ) -> PageReply:
        try:
            letters = self._dead_letters().peek_dead(DEAD_LETTERS_SHOWN)
        except Exception:  # the rest of the page stays useful while SQS is not
            logger.warning("dead letters unavailable for the status page")
            letters = []
        html = dashboard(
            self._stats().snapshot(),
            letters,
            keys.csrf(session),
            notice=notice_text(request.param("notice")),
            contact_html=contact_html,
            base=request.base,
        )
        return _page(200, html)

    def login(self, request: PageRequest) -> PageReply:
        keys = self._keys()
        if keys is None:
            return _page(503, error_page(request.base, OFF))
        now, throttle = self._clock(), self._throttle()
        try:
            allowed = throttle.attempt(request.source_ip, now)
        except Exception:  # an attempt that cannot be counted is not checked: fail closed
            logger.warning("status page: sign-in attempts cannot be counted", exc_info=True)
            return _page(503, error_page(request.base, SIGN_IN_OFF))
        if not allowed:
            # Even the right token waits: a guesser must not learn when it has found it.
            return _page(
                429, login_page(request.base, "Too many wrong tokens: try again in 15 minutes.")
            )
        given = request.form().get("token", "")
        if not given or not same(given, reveal(self._token)):
            logger.warning("status page: wrong admin token")
            return _page(401, login_page(request.base, "Wrong token."))
        try:
            throttle.succeeded(request.source_ip, now)
        except Exception:  # one attempt too many counted: harmless
            logger.warning("status page: a right token's attempt not given back", exc_info=True)
        cookie = set_cookie(keys.issue(now), request.base)
        return _redirect(f"{request.base}/admin", **{"Set-Cookie": cookie})

    def logout(self, request: PageRequest) -> PageReply:
        guarded = self._guard(request, post=True)
        if isinstance(guarded, PageReply) and guarded.status == 403:
            return guarded
        return _redirect(f"{request.base}/admin", **{"Set-Cookie": clear_cookie(request.base)})

    def run(self, request: PageRequest) -> PageReply:
        guarded = self._guard(request, post=True)
        if isinstance(guarded, PageReply):
            return guarded
        keys, session = guarded
        form = request.form()
        mode: Any = form.get("mode", "reconcile")
        if mode not in ("reconcile", "backfill"):
            return _page(
                400, error_page(request.base, 'The mode must be "reconcile" or "backfill".')
            )
        if form.get("confirm") != "yes":
            question = f"Start a {mode} run now?"
            return _page(
                200,
                confirm_page(
                    request.base, "/admin/run", question, keys.csrf(session), {"mode": mode}
                ),
            )
        try:
            self._runs().start(mode=mode, trigger="page")
        except RunActive:
            return _redirect(f"{request.base}/admin?notice=run-active")
        except ConfigurationError as exc:
            return _page(503, error_page(request.base, f"No run started: {exc}"))
        return _redirect(f"{request.base}/admin?notice=run-started")

    def redrive(self, request: PageRequest) -> PageReply:
        guarded = self._guard(request, post=True)
        if isinstance(guarded, PageReply):
            return guarded
        keys, session = guarded
        if request.form().get("confirm") != "yes":
            question = f"Send up to {REDRIVE_PER_CLICK} dead letters back to the queue?"
            return _page(
                200, confirm_page(request.base, "/admin/redrive", question, keys.csrf(session), {})
            )
        moved = self._dead_letters().redrive(REDRIVE_PER_CLICK, within_seconds=REDRIVE_SECONDS)
        logger.info("status page: dead letters redriven", extra={"moved": moved})
        return _redirect(f"{request.base}/admin?notice=redriven-{moved}")
