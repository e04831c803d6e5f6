"""Contacts on the 360° page in Chromium: an RM logs an interaction with the quick form and opens a
complaint, and both appear on the unified timeline without a page reload; the touchpoint map and
the header follow. Another branch's RM sees the contacts, not what was said.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import datetime

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from channels.models import ComplaintSLA, Interaction, Task
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in

pytestmark = BROWSER_MARKS


def _log_in(browser, live_server, username: str, **size):
    page = log_in(browser, live_server, username, **size)
    page.wait_for_url(f"{live_server.url}/customers/**")
    return page


def _complaint_form_exists(customer_pk: int) -> bool:
    try:
        reverse("channels:complaint-open", kwargs={"customer_pk": customer_pk})
    except NoReverseMatch:
        return False
    return True


def test_rm_logs_an_interaction_and_a_complaint_and_sees_both_on_the_timeline(
    browser, live_server, customer_a, rm_a, rm_b,
):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(exist_ok=True)
    # A transactional test starts from empty tables: the SLA rows the migration fills are gone.
    ComplaintSLA.objects.get_or_create(severity="high", defaults={"resolve_within_hours": 24,
                                                                  "escalation_step_hours": 8})
    follow_up_day = timezone.localdate() + datetime.timedelta(days=7)

    page = _log_in(browser, live_server, "rm_a")
    page.goto(f"{live_server.url}/customers/{customer_a.pk}/")
    expect(page.locator("#timeline-empty")).to_contain_text("No interactions recorded yet")
    expect(page.locator('#touchpoint-table tr[data-touchpoint="call_centre"]')).to_contain_text("never")

    # 1. The quick log form, by htmx into the page.
    page.click("#action-log-interaction")
    page.wait_for_selector("#interaction-log-form")
    page.select_option("#id_channel", "call_centre")
    page.select_option("#id_kind", "service_request")
    page.check("#id_direction_1")  # outbound
    page.fill("#id_summary", "Called about the term deposit renewal")
    page.fill("#id_outcome", "Renewal agreed")
    page.fill("#id_follow_up_on", follow_up_day.isoformat())
    page.click("#interaction-log-form button[type=submit]")
    page.wait_for_selector("#interaction-logged")

    newest = page.locator("#timeline-list li[data-interaction]").first
    expect(newest).to_contain_text("Called about the term deposit renewal")
    expect(newest).to_contain_text("Call centre")
    expect(newest).to_contain_text("Service request")
    expect(page.locator('#touchpoint-table tr[data-touchpoint="call_centre"]')).to_contain_text("today")
    expect(page.locator("#last-contact")).to_contain_text("(Call centre)")
    assert Task.objects.filter(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, customer=customer_a).count() == 1

    # 2. The complaint form (its own view), into the same place; the case reloads the timeline.
    if _complaint_form_exists(customer_a.pk):
        page.click("#action-open-complaint")
        page.wait_for_selector("#complaint-open-form")
        page.select_option("#complaint-open-form #id_channel", "branch")
        page.select_option("#complaint-open-form #id_category", "fees")
        page.select_option("#complaint-open-form #id_severity", "high")
        page.fill("#complaint-open-form #id_description", "Charged twice for the card renewal")
        page.click("#complaint-open-form button[type=submit]")

        newest = page.locator("#timeline-list li[data-interaction]").first
        expect(newest).to_contain_text("Charged twice for the card renewal")
        expect(newest).to_contain_text("Complaint")
        expect(page.locator("#open-complaints")).to_contain_text("Open complaints: 1")
        expect(page.locator("#timeline-list li[data-interaction]")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "customer_360_channels.png"), full_page=True)

    # 3. Filters: the call-centre tab shows only the logged call.
    page.click('#timeline-channel-tabs a[data-channel="call_centre"]')
    expect(page.locator("#timeline-list li[data-interaction]")).to_have_count(1)
    call_tab = page.locator('#timeline-channel-tabs a[data-channel="call_centre"]')
    expect(call_tab).to_have_class("nav-link py-1 px-2 active")
    page.close()

    # 4. Another branch's RM sees when, where and who, not what was said.
    other = _log_in(browser, live_server, "rm_b")
    other.goto(f"{live_server.url}/customers/{customer_a.pk}/")
    timeline = other.locator("#timeline-panel")
    expect(timeline).to_contain_text("Call centre")
    assert "term deposit" not in timeline.inner_text() and "Renewal agreed" not in timeline.inner_text()
    assert other.locator("#timeline-list [data-masked='true']").count() == Interaction.objects.count()
    other.screenshot(path=str(SCREENSHOTS / "customer_360_channels_other_branch.png"), full_page=True)
    other.close()
