"""Helpers of the browser tests (tests/browser/; the fixtures are in tests/browser/conftest.py):
people logging in through NetBox's login page, and what the fabric page shows."""

import os
import re

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

CHROMIUM = os.environ.get("HEDGEHOG_CHROMIUM") or "/usr/bin/chromium"
# Without the background-networking flags chromium waits for services it cannot reach here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "Browser-Test-Pa55word"
# Long enough for a 2-core machine shared with others; a passing wait ends as soon as it can.
WAIT_MS = 20_000


def make_user(username, *, superuser=False):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    return user


def log_in(page, username, then="/plugins/hedgehog/fabrics/"):
    """Through NetBox's login page, as a person would; lands on `then`."""
    page.goto(f"/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(re.escape(then) + "$"))


def state_badge(page, label):
    """The badge of a row of the fabric page's state panel (Lifecycle, Connection, Sync)."""
    row = page.locator("#fabric-state tr").filter(
        has=page.get_by_role("rowheader", name=re.compile(f"^{label}$"))
    )
    return row.locator(".badge").first
