"""The main flow in Chromium: log in, search a customer, open the 360° page, masking per role.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

from crm_bank.org.models import StaffProfile
from customers.services import customer_update
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in
from tests.customers.factories import account_for, transactions_for
from tests.org.factories import StaffProfileFactory

pytestmark = BROWSER_MARKS


def _log_in(browser, live_server, username: str, **size):
    page = log_in(browser, live_server, username, **size)
    page.wait_for_url(f"{live_server.url}/customers/**")
    return page


def _search_and_open(page, live_server, query: str, name: str) -> None:
    page.fill("#global-search", query)
    page.press("#global-search", "Enter")
    page.wait_for_selector("#customer-table")
    page.click(f"#customer-table a:text('{name}')")
    page.wait_for_selector("#customer-header")


def test_rm_searches_opens_360_and_sees_masking_by_branch(browser, live_server, customer_a, rm_a, rm_b):
    SCREENSHOTS.mkdir(exist_ok=True)
    transactions_for(account_for(customer_a), 30)
    customer_update(customer=customer_a, actor=rm_a, national_id="7103192756")

    own = _log_in(browser, live_server, "rm_a")
    _search_and_open(own, live_server, "novakova", "Jana Novakova")
    assert own.inner_text("#customer-name") == "Jana Novakova"
    assert own.inner_text("#field-national-id").strip() == "7103192756"
    assert own.inner_text("#field-phone").strip() == "+420601123456"
    assert own.locator("#transaction-table tr[data-txn]").count() == 20
    own.click("#transactions-older")  # htmx swaps in the next page
    own.wait_for_selector("#transactions-panel :text('Page 2')")
    own.screenshot(path=str(SCREENSHOTS / "customer_360_own_rm.png"), full_page=True)
    own.close()

    other = _log_in(browser, live_server, "rm_b")
    _search_and_open(other, live_server, customer_a.cif, "Jana Novakova")
    assert "********56" in other.inner_text("#field-national-id")
    assert "7103192756" not in other.content()
    other.click("#show-field-changes")  # htmx loads the field-changes panel on demand
    other.wait_for_selector("#history-panel [data-change]")
    assert "********45 → ********56" in other.inner_text("#history-panel")
    assert other.locator("#masked-notice").is_visible()
    assert other.locator("#transaction-table").count() == 0
    other.screenshot(path=str(SCREENSHOTS / "customer_360_other_branch.png"), full_page=True)
    other.close()


def test_supervisor_switches_the_360_page_to_chinese(browser, live_server, customer_a, branch_a):
    StaffProfileFactory(user__username="sup_browser", role=StaffProfile.Role.SUPERVISOR, branch=branch_a)
    page = _log_in(browser, live_server, "sup_browser")
    page.goto(f"{live_server.url}/customers/{customer_a.pk}/")
    page.click("#language-form button[value='zh-hans']")
    page.wait_for_selector("html[lang='zh-hans']")
    assert "持有产品" in page.inner_text("#holdings-panel")
    assert page.inner_text("#field-national-id").strip() == "7103192745"
    assert "****" not in page.inner_text("#holdings-panel")
    page.screenshot(path=str(SCREENSHOTS / "customer_360_chinese.png"), full_page=True)
    page.close()
