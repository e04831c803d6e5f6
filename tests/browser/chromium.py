"""What every browser test shares: Debian's Chromium (Playwright cannot download its own browser
here), where screenshots go, the test users' password, and the marks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests"
# Playwright's sync API keeps an event loop on the main thread, where the test also uses the ORM.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not installed at {CHROMIUM} (make test installs it)"),
]


def log_in(browser, live_server, username: str, *, height: int = 1000):
    """A new page signed in as `username` (password PASSWORD), on whatever page login lands."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    return page


# A canvas Chart.js has drawn on: it has a size and pixels that are not blank.
CANVAS_DRAWN = (
    "(id) => { const c = document.getElementById(id);"
    " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " return c.width > 0 && d.some((v, i) => i % 4 === 3 && v > 0); }"
)


def wait_for_chart(page, canvas_id: str) -> None:
    """Chart.js draws after the page's scripts run, and animates: wait for pixels, don't look once."""
    page.wait_for_function(CANVAS_DRAWN, arg=canvas_id, timeout=10_000)
