"""Every app's landing page: staff only, within its query budget."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignContact
from customers.models import SourceRecord
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LANDING_PAGES = ["segmentation:index", "campaigns:index", "performance:index", "channels:index",
                 "customers:customer-list", "customers:my-book", "demo:data-notes"]


@pytest.mark.parametrize("url_name", LANDING_PAGES)
def test_landing_page_loads_for_staff_within_budget(client, django_assert_max_num_queries, analyst_b, url_name):
    client.force_login(analyst_b)
    with django_assert_max_num_queries(8):
        response = client.get(reverse(url_name))
    assert response.status_code == 200


@pytest.mark.parametrize("url_name", [*LANDING_PAGES, "customers:branch-dashboard"])
def test_landing_page_refuses_users_without_staff_role(client, no_role_user, url_name):
    client.force_login(no_role_user)
    response = client.get(reverse(url_name))
    assert response.status_code == 403 and 'id="forbidden"' in response.content.decode()


def test_campaign_list_shows_results_per_campaign(client, django_assert_max_num_queries, rm_a, branch_a):
    campaign = Campaign.objects.create(code="T1", name="Deposit drive", channel="phone", starts_on="2024-01-01")
    for outcome in ["accepted", "declined", "declined", "declined"]:
        CampaignContact.objects.create(campaign=campaign, customer=CustomerFactory(home_branch=branch_a),
                                       outcome=outcome)
    client.force_login(rm_a)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("campaigns:index")).content.decode()
    assert "Deposit drive" in page and "25%" in page


def test_campaign_list_without_campaigns_says_what_is_loaded(client, django_assert_max_num_queries, rm_a):
    customers = CustomerFactory.create_batch(3)
    SourceRecord.objects.bulk_create(SourceRecord(customer=c, system_id=SourceRecord.System.SYNTHETIC,
                                                  external_id=c.cif) for c in customers)
    client.force_login(rm_a)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("campaigns:index")).content.decode()
    assert "Synthetic demo bank: 3 customers" in page and "without campaign history" in page
    assert "once the demo data is loaded" not in page


def test_campaign_list_without_any_data_says_the_demo_is_not_loaded(client, rm_a):
    client.force_login(rm_a)
    page = client.get(reverse("campaigns:index")).content.decode()
    assert "load the demo data for the historic telemarketing campaign" in page and 'id="loaded-sources"' not in page


def test_login_page_within_budget(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get(reverse("login"))
    assert response.status_code == 200 and 'id="login-form"' in response.content.decode()
