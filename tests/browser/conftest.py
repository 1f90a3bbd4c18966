"""One local stack per test module, one headless Chromium per pytest worker, a fresh browser
context (no cookies) per test. As in tests/blackbox, a module whose tests xdist shares between
both workers starts a stack on each (xdist_group cannot keep them together: pytest-xdist 3.8's
loadgroup does not group under pytest 9.2); their tests depend on no order, so that costs time only.

Playwright drives Debian's chromium (`make test` installs it, scripts/chromium.sh): without it
every test here is skipped, saying how to install it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.blackbox.stack import Stack, running_stack
from tests.browser.admin import AdminPage
from tests.support.helpers import Signer

CHROMIUM = os.environ.get("CHROMIUM_EXECUTABLE") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no chromium at {CHROMIUM}: install Debian's (sudo apt-get install chromium; "
            "`make test` does so as root or with password-less sudo)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, signer: Signer
) -> Iterator[Stack]:
    # After `browser`: no stack is started for a module that is skipped for want of chromium.
    with running_stack(tmp_path_factory.mktemp("devstack"), signer) as running:
        yield running


@pytest.fixture
def context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=stack.info["url"])
    ctx.set_default_timeout(5_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def admin(page: Page, stack: Stack) -> AdminPage:
    return AdminPage(page, stack)
