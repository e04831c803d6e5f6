"""Cross-sell in Chromium: an analyst runs the cross-sell (through a real Celery worker, "Run now"
only queues it) and reads each segment's rules; an RM then sees a customer's next-best product and
why on the 360° page; a closed campaign's results page draws its monthly chart.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import datetime as dt

import pytest

from crm_bank.runs.models import Run
from segmentation.cross_sell import CROSS_SELL
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart
from tests.segmentation.cross_sell_bank import affinity_bank

pytestmark = BROWSER_MARKS


@pytest.mark.worker
def test_analyst_runs_cross_sell_and_the_rm_sees_the_next_best_product(
    browser, live_server, analyst_b, rm_a, branch_a, worker,
):
    bank = affinity_bank(branch_a, rm_a)
    SCREENSHOTS.mkdir(exist_ok=True)
    page = log_in(browser, live_server, analyst_b.username)
    page.goto(f"{live_server.url}/segmentation/")
    page.click("#cross-sell-link")
    page.wait_for_selector("#no-cross-sell-run")

    page.click("#cross-sell-run-form button[type=submit]")
    page.wait_for_selector("#cross-sell-run-results", timeout=60_000)
    run = Run.objects.get(kind=CROSS_SELL)
    assert run.status == Run.Status.SUCCEEDED, run.error
    page.click("#cross-sell-run-results")
    page.wait_for_selector("#cross-sell-rules")
    rules = page.inner_text("#cross-sell-rules")
    assert "Young digital savers" in rules and "67%" in rules
    assert "30 customers with a next-best product" in page.inner_text("#cross-sell-run")
    page.screenshot(path=str(SCREENSHOTS / "cross_sell.png"), full_page=True)
    page.close()

    page = log_in(browser, live_server, rm_a.username)
    page.goto(f"{live_server.url}/customers/{bank.carded[0].pk}/")
    page.wait_for_selector("#next-product-name")
    assert page.inner_text("#next-product-name") == "Loan"
    assert "who hold Card also hold Loan" in page.inner_text("#next-product-reason")
    page.close()


def test_a_closed_campaigns_results_page_draws_its_monthly_chart(browser, live_server, supervisor_a, branch_a):
    from campaigns.models import Campaign, CampaignContact
    from tests.customers.factories import CustomerFactory, ProductFactory

    campaign = Campaign.objects.create(
        code="HIST-B", name="Historic", product=ProductFactory(code="T", category="deposit"), channel="call_centre",
        channels=["call_centre"], starts_on=dt.date(2008, 5, 1), ends_on=dt.date(2008, 7, 31),
        status=Campaign.Status.COMPLETED)
    for n, day in enumerate([dt.date(2008, 5, 6), dt.date(2008, 6, 6), dt.date(2008, 6, 7), dt.date(2008, 7, 1)]):
        CampaignContact.objects.create(campaign=campaign, customer=CustomerFactory(home_branch=branch_a),
                                       contacted_on=day, attempts=1, outcome="accepted" if n % 2 else "declined")
    page = log_in(browser, live_server, supervisor_a.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.click("#open-dashboard")
    page.wait_for_selector("#results-chart")
    wait_for_chart(page, "results-chart")
    assert page.inner_text("#results-contacted") == "4" and page.inner_text("#results-rate") == "50.0%"
    assert page.locator("#results-months tbody tr").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "campaign_results.png"), full_page=True)
    page.close()

