"""The 80/20 flow in Chromium: an analyst starts a value run, watches it finish, reads the results.

The run goes through a real Celery worker (threads, in this process) and Redis, as in production:
"Run now" only queues it. Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import pytest

from crm_bank.runs.models import Run
from segmentation.services import VALUE_SCORING
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart
from tests.segmentation import conftest as segmentation_fixtures

pytestmark = [*BROWSER_MARKS, pytest.mark.worker]


# The small bank of the segmentation tests (its conftest is not this folder's).
small_bank = segmentation_fixtures.small_bank


def test_analyst_runs_value_scoring_from_the_page_and_sees_lorenz_and_tiers(
    browser, live_server, analyst_b, small_bank, worker,
):
    SCREENSHOTS.mkdir(exist_ok=True)
    page = log_in(browser, live_server, "analyst_b")

    page.click("nav a:text('Value (80/20)')")
    page.wait_for_url(f"{live_server.url}/segmentation/value/")
    assert page.locator("#lorenz-chart").count() == 0  # nothing published yet

    page.click("#value-run-form button[type=submit]")
    # The bar polls every 2 s (htmx) until the worker has published the run.
    page.wait_for_selector("#value-run-progress .progress")
    page.wait_for_selector("#value-run-results", timeout=20_000)
    assert page.get_attribute("#value-run-progress .progress", "aria-valuenow") == "100"
    run = Run.objects.get(kind=VALUE_SCORING)
    assert run.status == Run.Status.SUCCEEDED and run.started_by == analyst_b

    page.click("#value-run-results")
    page.wait_for_selector("#lorenz-chart")
    wait_for_chart(page, "lorenz-chart")
    branch_rows = page.locator("#branch-tiers tbody tr")
    assert branch_rows.count() == 2  # small_bank's customers sit in branches A and B
    assert small_bank.x.home_branch.name in page.inner_text("#branch-tiers")
    page.screenshot(path=str(SCREENSHOTS / "value_run_flow.png"), full_page=True)
    page.close()
