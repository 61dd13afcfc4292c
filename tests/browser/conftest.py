"""The browser tests: pytest-playwright drives the distribution's chromium (never a downloaded
browser) against NetBox served by pytest-django's live server, with the plugin talking to the
session's emulated cluster and the queued jobs run by tests.support.worker.run_jobs.

The live server runs in a thread of this process and answers from the committed database: these
tests are transactional (live_server asks for transactional_db), so what a test writes is seen by
the server and what the server writes is seen by the test. Static files (NetBox's CSS and JS,
htmx) are served by the live server's static handler from the installed packages (the
staticfiles finders): no collectstatic is needed.

They run last (tests/conftest.py sorts them), are marked `browser`
(`make test ARGS="-m browser"` runs only them), and a failure leaves a screenshot in
.dev/test-results/ (pyproject.toml's addopts).
"""

import os

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no chromium at {CHROMIUM}: make setup installs it (or set HEDGEHOG_CHROMIUM)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server.url


@pytest.fixture(autouse=True)
def _served(live_server, transactional_db):
    """Every browser test has the live server, and commits what it writes (the server sees it)."""


@pytest.fixture(scope="session", autouse=True)
def _django_beside_playwright():
    """Playwright's sync API keeps an event loop running in this thread (in a greenlet), which
    Django's guard against the ORM in async code takes for async code: the test's own ORM calls
    and the jobs run_jobs runs here are plain synchronous code."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session", autouse=True)
def _quick_passwords():
    """The people of these tests log in with a fast hash (NetBox's default takes a second a login)."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _patient_expect(page):
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
