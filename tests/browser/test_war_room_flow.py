"""The war room in Chromium: a supervisor watches a running campaign's dashboard while the traffic
simulator posts calls, visits and sales through the ingest API; the page refreshes itself (htmx,
every 5 s) and its counts rise, the chart redrawn.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

from django.core.management import call_command

from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart
from tests.campaigns.conftest import bank, running, term  # noqa: F401 (fixtures)

pytestmark = BROWSER_MARKS


def test_the_war_room_counts_rise_as_the_simulator_posts_traffic(browser, live_server, running, supervisor_a):  # noqa: F811
    SCREENSHOTS.mkdir(exist_ok=True)
    page = log_in(browser, live_server, supervisor_a.username)
    page.goto(f"{live_server.url}/campaigns/{running.pk}/")
    page.click("#open-dashboard")
    page.wait_for_selector("#dashboard-live")
    assert page.inner_text("#dash-events") == "0"

    call_command("simulate_campaign_traffic", running.code, "--rate", "30", "--minutes", "4", "--no-wait")

    page.wait_for_function("() => document.getElementById('dash-events').innerText.trim() === '120'", timeout=15_000)
    wait_for_chart(page, "events-chart")
    assert int(page.inner_text("#dash-conversions")) >= 1  # the simulator's sales
    assert int(page.inner_text("[data-step='targeted']")) >= 1
    page.screenshot(path=str(SCREENSHOTS / "war_room.png"), full_page=True)
    page.close()
