"""The maker-checker flow in Chromium: a supervisor drafts a campaign with the form and submits it;
another supervisor of the branch finds it on the landing page, approves it and launches it.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

from django.utils import timezone

from campaigns.models import Campaign
from crm_bank.audit.models import AuditEvent
from crm_bank.org.models import StaffProfile
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in
from tests.campaigns.helpers import targets_chosen
from tests.customers.factories import ProductFactory
from tests.org.factories import StaffProfileFactory

pytestmark = BROWSER_MARKS


def test_draft_submit_approve_and_launch_by_two_supervisors(browser, live_server, supervisor_a, branch_a):
    SCREENSHOTS.mkdir(exist_ok=True)
    ProductFactory(code="PT-TERM", name="Term deposit", category="deposit")
    maker = StaffProfileFactory(user__username="maker_a", role=StaffProfile.Role.SUPERVISOR, branch=branch_a).user

    page = log_in(browser, live_server, maker.username)
    page.goto(f"{live_server.url}/campaigns/")
    page.click("#new-campaign")
    page.fill("#id_code", "TD-SPRING")
    page.fill("#id_name", "Term deposit spring")
    page.fill("#id_objective", "Grow term deposits of tier A and B customers")
    page.select_option("#id_product", label="Term deposit")
    page.check("input[name=channels][value=call_centre]")
    page.fill("#id_cost_call_centre", "12.50")
    page.fill("#id_budget", "50000")
    page.fill("#id_starts_on", timezone.localdate().isoformat())
    page.check("input[name=tiers][value=A]")
    page.select_option("#id_branches", value=str(branch_a.pk))
    page.click("#campaign-form button[type=submit]")
    page.wait_for_selector("#campaign-status")
    assert page.inner_text("#campaign-status") == "Draft"
    page.click("#submit-campaign")
    page.wait_for_selector("#waiting-note")
    assert page.inner_text("#campaign-status") == "Waiting for approval"
    page.close()

    checker = log_in(browser, live_server, supervisor_a.username)
    checker.wait_for_selector("#approvals-waiting")  # the landing page says what waits
    checker.click("#approvals-waiting a")
    checker.click("#approval-queue a:text('Term deposit spring')")
    checker.click("#approve-campaign")
    checker.wait_for_selector("#launch-needs-targets")  # no targets yet: nothing to launch with
    assert checker.inner_text("#campaign-status") == "Approved"
    targets_chosen(Campaign.objects.get(code="TD-SPRING"))  # as the maker's targeting run would
    checker.reload()
    checker.wait_for_selector("#launch-campaign")
    checker.click("#launch-campaign")
    checker.wait_for_selector("#close-campaign")
    assert checker.inner_text("#campaign-status") == "Running"
    checker.screenshot(path=str(SCREENSHOTS / "campaign_approved_and_running.png"), full_page=True)
    checker.close()

    campaign = Campaign.objects.get(code="TD-SPRING")
    assert (campaign.status, campaign.submitted_by, campaign.decided_by) == ("active", maker, supervisor_a)
    steps = list(AuditEvent.objects.filter(object_type="campaign", object_id=str(campaign.pk))
                 .order_by("id").values_list("detail__step", flat=True))
    assert steps == [None, "submit", "approve", "launch"]  # created, then the three steps
