"""The 360° page's predictions panel: propensity and churn risk from the published model-training
run, with the run's date and a one-line reason; masked drivers for another branch. The panel loads
with the page (htmx), so the page itself keeps its budget of 12 queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from segmentation.models import CustomerPrediction
from segmentation.segments import segmentation_start
from segmentation.services import value_scoring_start
from segmentation.training import model_training_start
from tests.segmentation.model_bank import (
    AS_OF,
    model_bank_fixture,  # noqa: F401
)

pytestmark = pytest.mark.django_db

QUERY_BUDGET_360 = 12
# Session, user, staff profile, customer, audit row, the scores, the next-best product.
QUERY_BUDGET_PANEL = 7


def _panel(client, customer) -> str:
    return client.get(reverse("segmentation:customer-predictions", args=[customer.pk])).content.decode()


@pytest.fixture
def trained(model_bank):
    return model_training_start(sync=True)


def test_360_page_before_any_training_says_not_scored(client, rm_a, model_bank):
    client.force_login(rm_a)

    assert 'id="prediction-none"' in _panel(client, model_bank.called[0])


def test_360_page_loads_the_panel_and_shows_scores_reasons_and_run_date_within_budget(
    client, rm_a, model_bank, django_assert_max_num_queries
):
    # Every panel of the page published: value, segments and models.
    value_scoring_start(as_of=AS_OF, sync=True)
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    model_training_start(sync=True)
    called, transacting = model_bank.called[0], model_bank.transacting[0]
    scores = {p.customer_id: p for p in CustomerPrediction.objects.filter(customer_id__in=[called.pk, transacting.pk])}
    client.force_login(rm_a)

    with django_assert_max_num_queries(QUERY_BUDGET_360):
        page = client.get(reverse("customers:customer-detail", args=[called.pk])).content.decode()
    panel_url = reverse("segmentation:customer-predictions", args=[called.pk])
    assert f'id="prediction-panel" hx-get="{panel_url}" hx-trigger="load"' in page

    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        panel = _panel(client, called)
    assert f"{100 * scores[called.pk].propensity:.1f}%" in panel
    assert "mainly by" in panel and "Models trained on data up to 03/30/1994 (churn: transactions up to 03/" in panel
    assert "no transactions before the model" in panel
    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        panel = _panel(client, transacting)
    assert "the response model needs marital status" in panel
    assert 'id="churn-risk"' in panel and "of accounts" in panel and "mainly by" in panel


def test_predictions_panel_is_for_staff_and_audited(client, no_role_user, rm_b, model_bank):
    from crm_bank.audit.models import AuditEvent

    customer = model_bank.called[0]
    client.force_login(no_role_user)
    assert client.get(reverse("segmentation:customer-predictions", args=[customer.pk])).status_code == 403
    client.force_login(rm_b)
    assert client.get(reverse("segmentation:customer-predictions", args=[999_999])).status_code == 404
    _panel(client, customer)
    assert AuditEvent.objects.filter(actor=rm_b, object_id=str(customer.pk), detail__purpose="predictions",
                                     outcome=AuditEvent.Outcome.MASKED).exists()


def test_360_page_masks_money_drivers_for_another_branch(client, rm_a, rm_b, model_bank, trained):
    called, transacting = model_bank.called[0], model_bank.transacting[0]
    CustomerPrediction.objects.filter(run=trained, customer=called).update(
        propensity_reason="balance", propensity_detail="4321", propensity_up=True)
    CustomerPrediction.objects.filter(run=trained, customer=transacting).update(
        churn_reason="credit_count", churn_detail="17", churn_up=True)

    client.force_login(rm_a)
    assert "Raised mainly by account balance: 4,321" in _panel(client, called)
    assert "Raised mainly by incoming payments: 17" in _panel(client, transacting)

    client.force_login(rm_b)
    masked = _panel(client, called)
    assert "Raised mainly by account balance: ****" in masked and "4,321" not in masked
    propensity = CustomerPrediction.objects.get(run=trained, customer=called).propensity
    assert f"{100 * propensity:.1f}%" in masked  # the score itself is not money
    assert "Raised mainly by incoming payments: ****" in _panel(client, transacting)


def test_credit_in_default_as_a_driver_is_masked_like_the_repayment_status(client, rm_a, rm_b, model_bank,
                                                                            trained):
    called = model_bank.called[0]
    CustomerPrediction.objects.filter(run=trained, customer=called).update(
        propensity_reason="default", propensity_detail="yes", propensity_up=False)

    client.force_login(rm_a)
    assert "credit in default: yes" in _panel(client, called)
    client.force_login(rm_b)
    masked = _panel(client, called)
    assert "credit in default: ****" in masked and "credit in default: yes" not in masked


def test_a_high_churn_risk_also_flags_the_header(client, rm_a, model_bank, trained):
    customer = model_bank.transacting[0]
    CustomerPrediction.objects.filter(run=trained, customer=customer).update(churn_risk=0.9, churn_percentile=0.97)
    client.force_login(rm_a)

    page = client.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    panel = _panel(client, customer)

    assert '<span id="churn-alert" class="d-none"></span>' in page  # the header's place for the alert
    assert 'id="churn-alert" hx-swap-oob="true"' in panel and "Churn risk: high" in panel
    assert "top 3% of accounts" in panel
