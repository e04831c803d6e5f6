"""The rule-segment form: saving, rule errors at the field with their position, the live count, the list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from segmentation.models import RuleSegment
from segmentation.rules import parse_rule
from segmentation.segments import rule_segment_count, segmentation_start
from segmentation.services import value_scoring_start
from tests.segmentation.segment_bank import AS_OF, PER_KIND, segment_bank_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

RULES_URL = reverse("segmentation:rules")
COUNT_URL = reverse("segmentation:rule-count")


def test_saving_a_rule_segment_records_who_and_audits(client, analyst_b):
    client.force_login(analyst_b)

    response = client.post(RULES_URL, {"name": "Young digital", "name_zh": "年轻数字客户",
                                       "rule": "age < 30 and digital_share > 0.7", "description": ""}, follow=True)

    segment = RuleSegment.objects.get()
    assert segment.rule == "age < 30 and digital_share > 0.7" and segment.created_by == analyst_b and segment.active
    assert AuditEvent.objects.filter(object_type="rule_segment", object_id=str(segment.pk)).exists()
    assert "Rule segment “Young digital” saved" in response.content.decode()


@pytest.mark.parametrize(("rule", "message"), [
    ("age < 30 and balance > 5",
     "Unknown feature &#x27;balance&#x27; at position 14; did you mean &#x27;deposit_balance&#x27;?"),
    ("age = 30", "A single &#x27;=&#x27; at position 5 is not a comparison; use &#x27;==&#x27;."),
    ("(age < 30", "The parenthesis opened at position 1 is never closed."),
])
def test_a_bad_rule_is_an_error_at_the_field_and_nothing_is_saved(client, analyst_b, rule, message):
    client.force_login(analyst_b)

    response = client.post(RULES_URL, {"name": "Bad", "rule": rule})

    assert response.status_code == 200 and not RuleSegment.objects.exists()
    assert response.context["form"].errors["rule"]
    html = response.content.decode()
    # crispy puts the message under the rule field (its error block names the field)
    field_block = html.split('id="div_id_rule"')[1].split('id="div_id_description"')[0]
    assert message in field_block and "The rule segment was not saved" in html


def test_rule_segment_list_shows_last_run_sizes(client, analyst_b, segment_bank, django_assert_max_num_queries):
    young = RuleSegment.objects.create(name="Young digital", rule="age < 30 and digital_share > 0.7")
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    RuleSegment.objects.create(name="Later", rule="age > 60")
    client.force_login(analyst_b)

    with django_assert_max_num_queries(8):
        response = client.get(RULES_URL)

    rows = {row.segment.name: row.last_size for row in response.context["rows"]}
    assert rows == {"Young digital": PER_KIND, "Later": None}
    assert young.rule in response.content.decode()


def test_rule_segment_list_empty_says_what_to_do(client, analyst_b):
    client.force_login(analyst_b)

    assert "No rule segment yet" in client.get(RULES_URL).content.decode()


def test_live_count_counts_the_current_features(client, analyst_b, segment_bank, django_assert_max_num_queries):
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    client.force_login(analyst_b)

    with django_assert_max_num_queries(6):
        html = client.post(COUNT_URL, {"rule": "age >= 65 or loans_outstanding > 1000000"}).content.decode()

    assert f'<strong id="rule-count-value">{2 * PER_KIND}</strong>' in html and "customers match" in html


def test_live_count_shows_a_rule_error_with_its_position(client, analyst_b, segment_bank):
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    client.force_login(analyst_b)

    html = client.post(COUNT_URL, {"rule": "age < 30 andd digital_share > 1"}).content.decode()

    assert "Unexpected &#x27;andd&#x27; at position 10." in html and "rule-count-value" not in html


def test_live_count_reads_the_segmentation_runs_features_and_says_when_there_are_none(client, analyst_b,
                                                                                    segment_bank):
    client.force_login(analyst_b)
    assert "No features yet" in client.post(COUNT_URL, {"rule": "age < 30"}).content.decode()

    value_scoring_start(as_of=AS_OF, sync=True)  # keeps only the value formula's inputs: no features
    assert "No features yet" in client.post(COUNT_URL, {"rule": "age < 30"}).content.decode()

    segmentation_start(as_of=AS_OF, k=3, sync=True)
    html = client.post(COUNT_URL, {"rule": "age < 30"}).content.decode()
    assert f'<strong id="rule-count-value">{PER_KIND}</strong>' in html


@pytest.mark.parametrize("rule", [
    "age < 30 and digital_share > 0.7", "value > 1000", "responded_before == 1", "not responded_before == 1",
    "n_mortgage >= 1 or deposit_balance > 450000", "recency_days < 5", "monetary_out_12m > 100",
    "assisted_share > 0.5", "complaints_12m >= 1", "contacts_12m >= 1 and average_balance < 10000",
])
def test_live_count_and_the_runs_mask_agree(segment_bank, rule):
    RuleSegment.objects.create(name="R", rule=rule)
    run = segmentation_start(as_of=AS_OF, k=3, sync=True)

    assert rule_segment_count(rule=parse_rule(rule), run=run) == next(iter(run.metrics["rule_sizes"].values()))


@pytest.mark.parametrize(("rule", "count"), [
    ("assisted_share > 0.5", PER_KIND),  # the retirees: every inbound contact at the branch
    ("complaints_12m >= 1", 1),
    ("contacts_12m >= 1 and average_balance < 10000", PER_KIND),  # the young
])
def test_rules_on_the_timeline_and_the_average_balance_count_who_they_should(segment_bank, rule, count):
    RuleSegment.objects.create(name="R", rule=rule)

    run = segmentation_start(as_of=AS_OF, k=3, sync=True)

    assert next(iter(run.metrics["rule_sizes"].values())) == count
