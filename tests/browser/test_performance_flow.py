"""Performance in Chromium: an RM opens their scorecard (trend sparklines drawn), follows "Why?" on a
missed KPI to the diagnosis and sees its waterfall; the supervisor opens the branch's day.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import datetime as dt

from campaigns.models import Campaign, CampaignContact
from performance.models import Kpi
from performance.runs import kpi_run_start
from performance.services import target_set
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart
from tests.performance.conftest import PERIOD, kpi_bank  # noqa: F401 (fixture)

pytestmark = BROWSER_MARKS


def test_an_rm_reads_their_scorecard_and_why_a_kpi_missed(browser, live_server, kpi_bank, rm_a,  # noqa: F811
                                                          supervisor_a):
    september = Campaign.objects.create(code="KPI-S", name="Earlier", channel="call_centre",
                                        channels=["call_centre"], starts_on=dt.date(2026, 9, 1),
                                        status=Campaign.Status.COMPLETED)
    for person, outcome in ((kpi_bank.x, "accepted"), (kpi_bank.z, "accepted"), (kpi_bank.y, "declined")):
        CampaignContact.objects.create(campaign=september, customer=person, contacted_on=dt.date(2026, 9, 10),
                                       attempts=1, outcome=outcome, channel="call_centre")
    target_set(actor=supervisor_a, kpi=Kpi.objects.get(code="campaign-conversion"), period=PERIOD, value="40",
               rm=rm_a)
    kpi_run_start(period="2026-09", sync=True)
    kpi_run_start(period=PERIOD, sync=True)
    SCREENSHOTS.mkdir(exist_ok=True)

    page = log_in(browser, live_server, rm_a.username)
    page.goto(f"{live_server.url}/performance/")
    page.wait_for_selector("#scorecard")
    assert page.inner_text("#kpi-score") != "—"
    row = page.locator("tr[data-kpi='campaign-conversion']")
    assert "33.3 %" in row.inner_text() and "40.0 %" in row.inner_text()
    page.wait_for_function("() => [...document.querySelectorAll('canvas.kpi-trend')].every((c) => c.width > 0)")
    page.screenshot(path=str(SCREENSHOTS / "rm_scorecard.png"), full_page=True)

    page.click("a[data-why='campaign-conversion']")
    page.wait_for_selector("#waterfall-chart")
    wait_for_chart(page, "waterfall-chart")
    assert "against a target of 40.0 %" in page.inner_text("#diagnosis-summary")
    assert page.inner_text("#waterfall-actual") == "33.3 %"
    page.click("a[data-by='segment']")
    page.wait_for_url("**by=segment")
    assert page.locator("#diagnosis-groups tbody tr").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "kpi_diagnosis.png"), full_page=True)
    page.close()

    page = log_in(browser, live_server, supervisor_a.username)
    page.goto(f"{live_server.url}/performance/home/")
    page.wait_for_selector("#home-kpis")
    assert "past its SLA" in page.inner_text("#home-complaints")
    page.close()
