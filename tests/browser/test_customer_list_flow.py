"""The customer list in Chromium: a quick search, then the filter panel (loaded when opened) narrows it."""

from __future__ import annotations

from customers.models import Customer
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in
from tests.customers.factories import CustomerFactory

pytestmark = BROWSER_MARKS


def test_rm_searches_then_opens_the_filters_and_narrows_by_stage(browser, live_server, customer_a, rm_a, branch_a):
    SCREENSHOTS.mkdir(exist_ok=True)
    CustomerFactory(first_name="Petr", last_name="Novakov", home_branch=branch_a,
                    lifecycle_stage=Customer.Lifecycle.DORMANT)
    Customer.objects.filter(pk=customer_a.pk).update(lifecycle_stage=Customer.Lifecycle.LOYAL)
    page = log_in(browser, live_server, "rm_a")
    page.fill("#global-search", "novakov")
    page.press("#global-search", "Enter")
    page.wait_for_selector("#customer-table")
    assert page.locator("#customer-table tbody tr").count() == 2
    assert page.locator("#customer-filter select").count() == 0  # not loaded until the panel opens

    page.click("#customer-filters summary")
    page.wait_for_selector("#customer-filter select[name=lifecycle_stage]")  # htmx swapped the form in
    assert page.input_value("#customer-filter input[name=q]") == "novakov"
    page.select_option("#customer-filter select[name=lifecycle_stage]", "dormant")
    page.click("#customer-filter button[type=submit]")
    page.wait_for_url("**lifecycle_stage=dormant**")
    rows = page.locator("#customer-table tbody tr")
    assert rows.count() == 1 and "Petr Novakov" in rows.first.inner_text()
    # A filter beyond the search box: the panel comes open with the page, the choice kept.
    assert page.locator("#customer-filters[open]").count() == 1
    assert page.input_value("#customer-filter select[name=lifecycle_stage]") == "dormant"
    page.screenshot(path=str(SCREENSHOTS / "customer_list_filtered.png"), full_page=True)
    page.close()
