"""Security flows in Chromium, under the site's Content-Security-Policy: breaking the glass on a
masked 360° page, setting up two-factor sign-in, and a chart page — with no CSP violation on any."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django_otp.oath import totp

from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart

pytestmark = BROWSER_MARKS


def _watch_csp(page) -> list[str]:
    """Console messages in which Chromium says it refused something for the CSP."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    return refused


def test_rm_outside_the_branch_unmasks_for_a_reason(browser, live_server, customer_a, rm_b):
    SCREENSHOTS.mkdir(exist_ok=True)
    page = log_in(browser, live_server, "rm_b")
    refused = _watch_csp(page)
    page.goto(f"{live_server.url}/customers/{customer_a.pk}/")
    assert "+420601123456" not in page.inner_text("#field-phone")
    # The completeness bar's width comes from data-width through behaviours.js, not a style attribute.
    assert page.eval_on_selector("#customer-header .progress-bar", "el => el.style.width").endswith("%")
    page.click("#unmask-link")
    page.check("input[name=reason][value=present]")
    page.fill("textarea[name=explanation]", "Customer at my counter wants to update the address")
    page.click("#unmask-form button[type=submit]")
    page.wait_for_selector("#unmasked-notice")
    assert page.inner_text("#field-phone").strip() == "+420601123456"
    page.screenshot(path=str(SCREENSHOTS / "unmasked_for_a_reason.png"), full_page=True)
    assert refused == []


def test_supervisor_sets_up_two_factor_sign_in(browser, live_server, supervisor_a, settings):
    settings.CRM_TWO_FACTOR = True
    page = log_in(browser, live_server, "sup_a")
    refused = _watch_csp(page)
    page.wait_for_selector("#two-factor-qr svg")
    secret = b32decode(page.inner_text("#two-factor-secret").replace(" ", ""))
    page.fill("#two-factor-form input[name=token]", f"{totp(secret):06d}")
    page.click("#two-factor-form button[type=submit]")
    page.wait_for_selector("#backup-codes")
    assert page.locator("#backup-codes li").count() == 10
    page.screenshot(path=str(SCREENSHOTS / "two_factor_backup_codes.png"), full_page=True)
    first_code = page.locator("#backup-codes li").first.inner_text().strip()
    page.click("text=I have kept them")
    page.wait_for_url(f"{live_server.url}/customers/branch/**")
    # New backup codes take one of the old ones (or an authenticator code) first.
    page.goto(f"{live_server.url}/accounts/two-factor/backup-codes/")
    page.fill("#backup-codes-form input[name=current]", first_code)
    page.click("#backup-codes-form button[type=submit]")
    page.wait_for_selector("#backup-codes")
    new_codes = page.locator("#backup-codes li").all_inner_texts()
    assert len(new_codes) == 10 and first_code not in new_codes
    assert refused == []


@pytest.mark.usefixtures("customer_a")
def test_chart_page_draws_with_its_script_file(browser, live_server, supervisor_a):
    page = log_in(browser, live_server, "sup_a")
    refused = _watch_csp(page)
    page.goto(f"{live_server.url}/channels/complaints/report/")
    wait_for_chart(page, "branch-chart")
    assert refused == []


def test_identifier_look_ups_past_the_allowance_are_refused_with_a_notice(browser, live_server, customer_a, rm_b,
                                                                          settings):
    settings.CRM_IDENTIFIER_LOOKUPS = 2
    page = log_in(browser, live_server, "rm_b")
    refused = _watch_csp(page)
    for query in ("7103192745", "+420601123456"):
        page.fill("#global-search", query)
        page.press("#global-search", "Enter")
        page.wait_for_selector("#customer-table")
        assert customer_a.cif in page.inner_text("#customer-table")
    page.fill("#global-search", "7103192799")
    page.press("#global-search", "Enter")
    page.wait_for_selector("#rate-limited")
    assert "Try again in" in page.inner_text("#rate-limited")
    page.screenshot(path=str(SCREENSHOTS / "look_up_allowance_spent.png"), full_page=True)
    assert refused == []
