"""The campaign pages: drafting with the form, the maker-checker buttons, the approval queue with its
SLA, what waits on the supervisor's landing page; permissions and query budgets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_save, campaign_submit
from crm_bank.org.models import StaffProfile
from tests.campaigns.helpers import targets_chosen
from tests.customers.factories import ProductFactory
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def maker(branch_a):
    return StaffProfileFactory(user__username="maker_a", role=StaffProfile.Role.SUPERVISOR, branch=branch_a).user


@pytest.fixture
def product():
    return ProductFactory(code="PT-TERM", name="Term deposit", category="deposit")


def _form(product, branch, **overrides) -> dict:
    return {"code": "TD-2027", "name": "Term deposit spring", "objective": "Grow term deposits",
            "product": product.pk, "channels": ["call_centre", "email"], "cost_call_centre": "12.50",
            "cost_email": "0.20", "budget": "50000", "control_share": "10", "seed": "7",
            "starts_on": "2026-12-01", "tiers": ["A", "B"], "branches": [branch.pk]} | overrides


def _submitted(maker, product, branch) -> Campaign:
    campaign = campaign_save(actor=maker, code="TD-2027", name="Term deposit spring", product=product,
                             channels=["call_centre"], contact_costs={"call_centre": "10"}, budget=Decimal("1000"),
                             starts_on=dt.date(2026, 12, 1), criteria={"branches": [branch.pk]})
    return campaign_submit(campaign=campaign, actor=maker)


def test_a_supervisor_drafts_a_campaign_with_the_form(client, maker, product, branch_a, django_assert_max_num_queries):
    client.force_login(maker)
    assert 'id="new-campaign"' in client.get(reverse("campaigns:index")).content.decode()
    response = client.post(reverse("campaigns:new"), _form(product, branch_a))
    campaign = Campaign.objects.get(code="TD-2027")
    assert response.status_code == 302 and response.url == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.status == "draft" and campaign.contact_costs == {"call_centre": "12.50", "email": "0.20"}
    assert campaign.control_share == Decimal("0.100") and campaign.criteria == {"tiers": ["A", "B"],
                                                                                "branches": [branch_a.pk]}
    with django_assert_max_num_queries(10):
        page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="submit-campaign"' in page and 'id="approve-campaign"' not in page


def test_the_form_says_what_is_missing_and_writes_nothing(client, maker, product, branch_a):
    client.force_login(maker)
    page = client.post(reverse("campaigns:new"), _form(product, branch_a, cost_email="")).content.decode()
    assert "Give the cost of one contact by this channel." in page
    assert not Campaign.objects.exists()
    campaign_save(actor=maker, code="TD-2027", name="Earlier", channels=["email"], contact_costs={"email": "1"},
                  starts_on=dt.date(2026, 12, 1))
    page = client.post(reverse("campaigns:new"), _form(product, branch_a)).content.decode()
    assert "already exists" in page and Campaign.objects.count() == 1


def test_an_rm_cannot_draft(client, rm_a, product, branch_a):
    client.force_login(rm_a)
    assert 'id="new-campaign"' not in client.get(reverse("campaigns:index")).content.decode()
    assert client.post(reverse("campaigns:new"), _form(product, branch_a)).status_code == 403


def test_submit_then_another_supervisor_approves_from_the_page(client, maker, supervisor_a, product, branch_a):
    client.force_login(maker)
    campaign = campaign_save(actor=maker, code="TD-2027", name="Spring", product=product, channels=["email"],
                             contact_costs={"email": "0.2"}, budget=Decimal("100"), starts_on=dt.date(2026, 12, 1),
                             criteria={"branches": [branch_a.pk]})
    client.post(reverse("campaigns:submit", args=[campaign.pk]))
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="waiting-note"' in page and 'id="approve-campaign"' not in page
    assert client.post(reverse("campaigns:approve", args=[campaign.pk]), {"version": "1"}).status_code == 403
    client.force_login(supervisor_a)
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="approve-campaign"' in page
    stale = client.post(reverse("campaigns:approve", args=[campaign.pk]), {"version": "0"}, follow=True)
    assert "changed after you opened it" in stale.content.decode()
    # "²" is a digit to str.isdigit but not to int(): read as no version, not a server error
    odd = client.post(reverse("campaigns:approve", args=[campaign.pk]), {"version": "²"}, follow=True)
    assert odd.status_code == 200 and "changed after you opened it" in odd.content.decode()
    client.post(reverse("campaigns:approve", args=[campaign.pk]), {"version": "1"})
    campaign.refresh_from_db()
    assert campaign.status == "approved" and campaign.decided_by == supervisor_a


def test_reject_from_the_page_needs_a_reason_and_the_maker_reads_it(client, maker, supervisor_a, product, branch_a):
    campaign = _submitted(maker, product, branch_a)
    client.force_login(supervisor_a)
    empty = client.post(reverse("campaigns:reject", args=[campaign.pk]), {"reason": ""}, follow=True)
    assert "Say why the campaign is rejected." in empty.content.decode()
    client.post(reverse("campaigns:reject", args=[campaign.pk]), {"reason": "No control group for tier A"})
    client.force_login(maker)
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="rejection"' in page and "No control group for tier A" in page and 'id="submit-campaign"' in page


def test_the_approval_queue_shows_what_waits_for_each_checker_with_its_sla(
    client, maker, supervisor_a, supervisor_b, bank_admin, rm_a, product, branch_a, settings,
    django_assert_max_num_queries,
):
    campaign = _submitted(maker, product, branch_a)
    Campaign.objects.filter(pk=campaign.pk).update(submitted_at=timezone.now() - dt.timedelta(hours=30))
    settings.CRM_CAMPAIGN_APPROVAL_SLA_HOURS = 24
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("campaigns:approvals")).content.decode()
    assert 'data-campaign="TD-2027"' in page and "late" in page
    landing = client.get(reverse("customers:branch-dashboard")).content.decode()
    assert 'id="approvals-waiting"' in landing and "past its approval time" in landing
    client.force_login(supervisor_b)  # another branch's campaign
    assert 'id="approvals-empty"' in client.get(reverse("campaigns:approvals")).content.decode()
    client.force_login(maker)  # never one's own
    assert 'id="approvals-empty"' in client.get(reverse("campaigns:approvals")).content.decode()
    client.force_login(bank_admin)
    assert 'data-campaign="TD-2027"' in client.get(reverse("campaigns:approvals")).content.decode()
    client.force_login(rm_a)
    assert client.get(reverse("campaigns:approvals")).status_code == 403


def test_launch_and_close_from_the_page(client, maker, supervisor_a, product, branch_a):
    from campaigns.services import campaign_approve

    campaign = campaign_approve(campaign=_submitted(maker, product, branch_a), actor=supervisor_a, version=1)
    Campaign.objects.filter(pk=campaign.pk).update(starts_on=timezone.localdate())
    client.force_login(supervisor_a)
    refused = client.post(reverse("campaigns:launch", args=[campaign.pk]), follow=True).content.decode()
    assert "Target the campaign before launching it" in refused
    targets_chosen(campaign)
    client.force_login(supervisor_a)
    client.post(reverse("campaigns:launch", args=[campaign.pk]))
    assert Campaign.objects.get(pk=campaign.pk).status == "active"
    client.post(reverse("campaigns:close", args=[campaign.pk]))
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


def test_the_campaign_form_and_list_stay_within_their_query_budgets(client, maker, product, branch_a,
                                                                      django_assert_max_num_queries):
    client.force_login(maker)
    with django_assert_max_num_queries(12):
        form = client.get(reverse("campaigns:new"))
    assert form.status_code == 200 and 'id="campaign-form"' in form.content.decode()
    for n in range(30):
        campaign_save(actor=maker, code=f"C-{n}", name=f"Campaign {n}", channels=["email"],
                      contact_costs={"email": "1"}, starts_on=dt.date(2026, 12, 1))
    with django_assert_max_num_queries(8):
        listing = client.get(reverse("campaigns:index"))
    assert listing.content.decode().count('href="/campaigns/') >= 25
