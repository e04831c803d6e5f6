"""The cross-sell run: association rules within segments, each customer's next-best product and
its reason, against the hand counts of cross_sell_bank.py; refusals; the 360° panel."""

from __future__ import annotations

import html

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from segmentation.cross_sell import CROSS_SELL, MIN_SUPPORT, cross_sell_start
from segmentation.models import CrossSellRule, CrossSellSuggestion
from tests.segmentation.cross_sell_bank import affinity_bank, predict

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank(branch_a, rm_a):
    return affinity_bank(branch_a, rm_a)


def _suggestions(run: Run) -> dict[int, CrossSellSuggestion]:
    return {s.customer_id: s for s in CrossSellSuggestion.objects.filter(run_id=run.pk)}


def test_rules_are_counted_per_segment_with_confidence_and_lift(bank):
    run = cross_sell_start(sync=True)

    assert run.status == Run.Status.SUCCEEDED, run.error
    rules = {(r.segment, r.antecedent, r.consequent): r for r in CrossSellRule.objects.filter(run_id=run.pk)}
    card_to_loan = rules[(0, "card", "loan")]
    assert (card_to_loan.antecedent_customers, card_to_loan.both_customers) == (30, 20)
    assert card_to_loan.confidence == pytest.approx(20 / 30) and card_to_loan.lift == pytest.approx((20 / 30) / 0.5)
    assert rules[(0, "current", "card")].lift == pytest.approx(1.0)
    assert rules[(0, "", "card")].confidence == pytest.approx(0.75)
    assert (0, "", "deposit") not in rules  # a zero count in the mix is not a holding
    assert rules[(1, "", "current")].antecedent_customers == 10
    bank_wide = rules[(-1, "card", "loan")]  # the whole bank: 30 card holders of 50, 20 of them with a loan (20 of 50)
    assert (bank_wide.antecedent_customers, bank_wide.both_customers) == (30, 20)
    assert bank_wide.lift == pytest.approx((20 / 30) / (20 / 50))
    assert rules[(-1, "", "card")].confidence == pytest.approx(0.6)


def test_each_customer_gets_the_strongest_product_they_do_not_hold(bank):
    predict(bank, bank.full[0], 0.3)
    predict(bank, bank.full[1], 0.01)  # below the least score worth saying
    predict(bank, bank.carded[0], 0.9)  # the model's figure beats the rule's

    run = cross_sell_start(sync=True)
    found = _suggestions(run)

    carded = found[bank.carded[1].pk]
    assert (carded.category, carded.basis, carded.antecedent, carded.measured_on) == ("loan", "rule", "card", 30)
    assert carded.score == pytest.approx(20 / 30)
    plain = found[bank.plain[0].pk]
    assert (plain.category, plain.basis, plain.measured_on) == ("card", "segment", 40)
    assert plain.score == pytest.approx(0.75)
    model = found[bank.full[0].pk]
    assert (model.category, model.basis, model.score) == ("deposit", "propensity", pytest.approx(0.3))
    assert found[bank.carded[0].pk].category == "deposit"
    assert bank.full[1].pk not in found and bank.full[2].pk not in found  # they hold everything worth saying
    # Ten members are too few to measure a segment on (MIN_SUPPORT): the bank's 50 customers speak for
    # them — 30 of the 50 hold a card.
    small = found[bank.small[0].pk]
    assert (small.category, small.basis, small.measured_on, small.score) == ("card", "bank", 50, pytest.approx(0.6))
    assert MIN_SUPPORT > 10
    assert run.metrics["by_basis"] == {"rule": 9, "segment": 10, "bank": 10, "propensity": 2}


def test_products_no_longer_on_sale_are_never_suggested(bank):
    bank.products["loan"].is_active = False
    bank.products["loan"].save()

    found = _suggestions(cross_sell_start(sync=True))

    assert bank.carded[0].pk not in found  # the loan was their only suggestion
    assert found[bank.plain[0].pk].category == "card"


def test_the_same_inputs_give_the_same_suggestions(bank):
    first = _suggestions(cross_sell_start(sync=True))
    second = _suggestions(cross_sell_start(sync=True))

    def key(found):
        return {k: (s.category, s.basis, s.antecedent, s.score) for k, s in found.items()}

    assert key(first) == key(second) and len(first) == 30
    assert CurrentRun.objects.get(kind=CROSS_SELL).run_id == max(Run.objects.filter(kind=CROSS_SELL).values_list(
        "id", flat=True))


def test_without_a_published_segmentation_the_run_is_refused_and_nothing_is_written(db):
    with pytest.raises(RunParamsInvalid, match="segmentation"):
        cross_sell_start(sync=True)
    assert not Run.objects.filter(kind=CROSS_SELL).exists()


def test_command_runs_in_process_and_refuses_an_as_of_date(bank, capsys):
    call_command("run_cross_sell", "--sync")
    assert "customers with a next-best product" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--as-of"):
        call_command("run_cross_sell", "--sync", "--as-of", "2024-01-01")


def test_360_panel_says_the_next_best_product_and_why(client, rm_a, rm_b, bank):
    predict(bank, bank.full[0], 0.3)
    cross_sell_start(sync=True)
    client.force_login(rm_a)

    def panel(customer) -> str:
        return html.unescape(client.get(reverse("segmentation:customer-predictions", args=[customer.pk]))
                             .content.decode())

    text = panel(bank.carded[0])
    assert 'id="next-product-name">Loan' in text
    assert ("67 % of customers in “Young digital savers” who hold Card also hold Loan "
            "(measured on 30 customers).") in text
    assert "75 % of customers in “Young digital savers” hold Card (measured on 40 customers)." in panel(bank.plain[0])
    assert "The response model gives a 30 % chance that they accept a Deposit offer." in panel(bank.full[0])
    assert ("60 % of the bank's customers hold Card, the most common product they do not hold yet (measured on 50 "
            "customers).") in panel(bank.small[0])
    assert 'id="next-product-none"' in panel(bank.full[1])
    client.force_login(rm_b)  # another branch sees the suggestion too: it names no amount
    assert 'id="next-product-name">Loan' in panel(bank.carded[0])


QUERY_BUDGET_PAGE = 8  # session, user, profile, the pointer and run, the active run, the rules (+ slack of 2)


def test_cross_sell_page_lists_rules_and_counts_for_analysts(client, analyst_b, rm_a, bank,
                                                             django_assert_max_num_queries):
    client.force_login(rm_a)
    assert client.get(reverse("segmentation:cross-sell")).status_code == 403
    client.force_login(analyst_b)
    assert 'id="no-cross-sell-run"' in client.get(reverse("segmentation:cross-sell")).content.decode()

    page = client.post(reverse("segmentation:cross-sell-run-start"), follow=True).content.decode()
    run = Run.objects.get(kind=CROSS_SELL)
    assert f"Cross-sell run #{run.pk} queued." in page and run.started_by == analyst_b
    assert reverse("segmentation:cross-sell-run-progress", args=[run.pk]) in page
    from crm_bank.runs.services import _run_in_process

    _run_in_process(run_id=run.pk)
    progress = client.get(reverse("segmentation:cross-sell-run-progress", args=[run.pk])).content.decode()
    assert 'id="cross-sell-run-results"' in progress
    with django_assert_max_num_queries(QUERY_BUDGET_PAGE):
        page = client.get(reverse("segmentation:cross-sell")).content.decode()
    rules = page.split('id="cross-sell-rules"')[1]
    assert "Young digital savers" in rules and "67%" in rules and "1.33" in rules
    assert "Small segment" not in rules  # ten members: not enough to measure a rule on
    assert "The whole bank" in rules
    by_product = page.split('id="cross-sell-by-product"')[1].split("</table>")[0]
    assert "Card</td><td class=\"num\">20" in by_product and "Loan</td><td class=\"num\">10" in by_product
