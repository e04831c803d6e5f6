"""The 360° page's tier badge and value panel, read from the published value-scoring run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segmentation.services import value_scoring_start
from tests.segmentation.conftest import AS_OF
from tests.segmentation.segment_bank import segment_bank_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

QUERY_BUDGET_360 = 12


def _page(client, customer) -> str:
    return client.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()


def _panel(page: str) -> str:
    start = page.index('id="value-panel"')
    return page[start: page.index("</section>", start)]


def test_360_page_before_any_run_says_not_scored(client, rm_a, small_bank):
    client.force_login(rm_a)
    page = _page(client, small_bank.x)
    assert "Tier: not scored yet" in page and 'id="value-panel"' not in page


def test_360_page_shows_tier_value_and_drivers_to_the_rm_within_budget(
    client, rm_a, small_bank, django_assert_max_num_queries
):
    value_scoring_start(as_of=AS_OF, sync=True)
    client.force_login(rm_a)
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        page = _page(client, small_bank.x)
    panel = _panel(page)
    # w's 1,500 is 70 % of the 2,140.60; x's 640.60 crosses the 80 % line, so x is tier A too.
    assert 'id="value-tier"' in page and "Tier A" in page and "Top 66.7% of customers by value" in page
    assert "640.60" in panel and "Loans outstanding" in panel and "500.00" in panel
    assert "First scored in this run" in panel
    # The tier's service policy (seeded: tier A has a dedicated RM, contact at most every 30 days).
    assert "Service level: A — Dedicated RM" in panel and "Contact at most every 30 days" in panel


def test_360_page_shows_a_rule_segments_own_service_policy_to_its_members(client, rm_a, small_bank):
    from campaigns.models import ServicePolicy
    from segmentation.models import RuleSegment
    from segmentation.segments import segmentation_start

    everyone = RuleSegment.objects.create(name="Everyone", rule="product_count >= 0")
    ServicePolicy.objects.create(tier="A", segment=everyone, channels=["mobile"], min_contact_days=60,
                                 service_level="priority")
    value_scoring_start(as_of=AS_OF, sync=True)
    segmentation_start(as_of=AS_OF, k=2, sync=True)
    client.force_login(rm_a)

    panel = _panel(_page(client, small_bank.x))

    assert "Service level: A — Priority queue" in panel and "Contact at most every 60 days" in panel


def test_360_page_shows_another_branch_the_tier_but_not_the_money(client, rm_b, small_bank):
    value_scoring_start(as_of=AS_OF, sync=True)
    client.force_login(rm_b)
    panel = _panel(_page(client, small_bank.x))
    assert "Tier A" in panel
    assert "640.60" not in panel and "500.00" not in panel and 'id="value-drivers"' not in panel
    assert 'data-masked="true"' in panel


def test_customer_list_filters_by_value_tier_within_budget(client, rm_a, small_bank, django_assert_max_num_queries):
    value_scoring_start(as_of=AS_OF, sync=True)
    client.force_login(rm_a)
    url = reverse("customers:customer-list")
    with django_assert_max_num_queries(10):
        tier_a = client.get(url, {"tier": "A"}).content.decode()
    tier_c = client.get(url, {"tier": "C"}).content.decode()
    for customer in (small_bank.x, small_bank.w):
        link = f'href="{reverse("customers:customer-detail", args=[customer.pk])}"'
        assert link in tier_a and link not in tier_c
    y_link = f'href="{reverse("customers:customer-detail", args=[small_bank.y.pk])}"'
    assert y_link in tier_c and y_link not in tier_a
    # The count the list shows is the tier's within the other filters (here the home branch).
    in_branch = client.get(url, {"tier": "A", "home_branch": small_bank.x.home_branch_id}).content.decode()
    start = in_branch.index('id="result-count"')
    count = in_branch[start:in_branch.index("</span>", start)]
    assert "1 customer" in count and "customers" not in count
    # A search with a tier keeps to the tier; an unknown tier is ignored, not an error.
    assert f'href="{reverse("customers:customer-detail", args=[small_bank.y.pk])}"' not in client.get(
        url, {"tier": "A", "q": small_bank.y.cif}).content.decode()
    assert client.get(url, {"tier": "Z"}).status_code == 200


def test_360_page_shows_the_segment_badge_and_path_within_budget(
    client, rm_b, segment_bank, django_assert_max_num_queries
):
    from segmentation.segments import segmentation_start
    from tests.segmentation.segment_bank import AS_OF as SEGMENT_AS_OF

    customer = segment_bank.everyone[0]
    client.force_login(rm_b)
    assert "Segment: not assigned yet" in _page(client, customer)
    segmentation_start(as_of=SEGMENT_AS_OF, k=3, sync=True)
    segmentation_start(as_of=SEGMENT_AS_OF, k=3, sync=True)
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        page = _page(client, customer)
    start = page.index('id="segment-panel"')
    panel = page[start: page.index("</section>", start)]
    assert 'id="segment-badge"' in page and "Segment: not assigned yet" not in page
    assert panel.count("<li") == 2  # both published runs, oldest first
