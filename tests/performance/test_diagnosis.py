"""The decomposition of a KPI's change adds up exactly (hypothesis), matches hand-computed drivers,
and the diagnosis page explains a miss."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from performance.diagnosis import GroupFigures, decompose


@st.composite
def groups(draw):
    result = []
    for key in range(draw(st.integers(1, 6))):
        den0, den1 = float(draw(st.integers(0, 10_000))), float(draw(st.integers(0, 10_000)))  # rows counted
        num0 = draw(st.floats(min_value=-1e5, max_value=1e5))
        num1 = draw(st.floats(min_value=-1e5, max_value=1e5))
        num0, num1 = (num0 if den0 else 0.0), (num1 if den1 else 0.0)  # a row always counts in D
        lost = draw(st.integers(0, int(den0)))
        lost_share = lost / den0 if den0 else 0.0
        result.append(GroupFigures(str(key), num0, den0, num1, den1, num0 * lost_share, float(lost)))
    return result


@settings(max_examples=300, deadline=None)
@given(figures=groups(), ratio=st.booleans())
def test_the_drivers_add_up_exactly_to_the_change(figures, ratio):
    result = decompose(figures, ratio=ratio, scale=100.0 if ratio else 1.0)
    drivers = result.attrition + result.volume + result.mix + result.rate
    assert drivers == pytest.approx(result.change, rel=1e-6, abs=1e-6 * (1 + abs(result.baseline) + abs(result.actual)))
    assert sum(g.mix for g in result.groups) == pytest.approx(result.mix, rel=1e-6, abs=1e-6)


def test_a_conversion_rate_that_fell_in_one_tier_is_a_rate_effect_not_mix():
    """Tier A: 100 contacts, 10 % → 100 contacts, 10 %; tier B: 100 contacts at 9 % → 100 at 4 %."""
    result = decompose([GroupFigures("A", 10, 100, 10, 100), GroupFigures("B", 9, 100, 4, 100)], ratio=True,
                       scale=100.0)
    assert (result.baseline, result.actual) == (pytest.approx(9.5), pytest.approx(7.0))
    assert result.mix == pytest.approx(0) and result.volume == 0 and result.attrition == pytest.approx(0)
    assert result.rate == pytest.approx(-2.5)
    tier_b = next(g for g in result.groups if g.key == "B")
    assert (tier_b.rate0, tier_b.rate1, tier_b.rate) == (pytest.approx(9), pytest.approx(4), pytest.approx(-2.5))


def test_a_total_splits_into_attrition_volume_mix_and_rate():
    """Conversions: A 100 contacts × 10 % (of which 20 contacts and 2 conversions from customers lost
    since), B 100 × 5 %; now A 150 × 10 %, B 50 × 5 %."""
    result = decompose([GroupFigures("A", 10, 100, 15, 150, 2, 20), GroupFigures("B", 5, 100, 2.5, 50)], ratio=False)
    assert (result.baseline, result.actual) == (15, 17.5)
    assert result.attrition == pytest.approx(-2)  # what the lost customers brought
    # Kept baseline: 13 conversions from 180 contacts (7.22 %); 200 contacts now: +20 × 13/180.
    assert result.volume == pytest.approx(20 * 13 / 180)
    # Shares 80/180 → 150/200 at 10 %, 100/180 → 50/200 at 5 %, on 200 contacts.
    assert result.mix == pytest.approx(200 * ((0.75 - 80 / 180) * 0.1 + (0.25 - 100 / 180) * 0.05))
    assert result.rate == pytest.approx(0)
    assert result.attrition + result.volume + result.mix + result.rate == pytest.approx(2.5)


@pytest.mark.django_db
def test_the_diagnosis_page_explains_a_missed_conversion_rate(client, kpi_bank, rm_a, rm_a2, supervisor_a,
                                                               django_assert_max_num_queries):
    """September: x (tier A) and z (tier B) accepted, y (tier A) declined: 66.7 %. October (the
    fixture): x accepted, y declined, z did not answer: 33.3 %. y has closed every account since
    (lost): without y September was 100 % (attrition +33.3); shares A 1/2 → 2/3, B 1/2 → 1/3 at
    100 % each (mix 0); rates A 100 → 50, B 100 → 0 (rate −66.7)."""
    import datetime as dt

    from django.urls import reverse

    from campaigns.models import Campaign, CampaignContact
    from performance.models import Kpi
    from performance.runs import kpi_run_start
    from performance.services import target_set
    from tests.performance.conftest import PERIOD

    september = Campaign.objects.create(code="KPI-S", name="Earlier", channel="call_centre",
                                        channels=["call_centre"], starts_on=dt.date(2026, 9, 1),
                                        status=Campaign.Status.COMPLETED)
    for person, outcome in ((kpi_bank.x, "accepted"), (kpi_bank.z, "accepted"), (kpi_bank.y, "declined")):
        CampaignContact.objects.create(campaign=september, customer=person, contacted_on=dt.date(2026, 9, 10),
                                       attempts=1, outcome=outcome, channel="call_centre")
    kpi = Kpi.objects.get(code="campaign-conversion")
    target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="40", rm=rm_a)
    kpi_run_start(period=PERIOD, sync=True)
    client.force_login(rm_a)
    card = client.get(reverse("performance:rm", args=["rm_a"])).content.decode()
    assert 'data-why="campaign-conversion" class="fw-semibold"' in card  # the miss links to its diagnosis

    url = reverse("performance:diagnosis", args=["rm", "rm_a", kpi.code]) + f"?period={PERIOD}"
    with django_assert_max_num_queries(14):
        page = client.get(url).content.decode()

    summary = page.split('id="diagnosis-summary"')[1].split("</div>\n")[0]
    assert "Campaign conversion rate: 33.3 % against a target of 40.0 % (2026-09: 66.7 %)." in summary
    # Both tiers cost 33.3 points of rate; the first, tier A, is named.
    assert "Campaign conversion rate among Tier A went from 100.0 % to 50.0 %." in summary
    table = page.split('id="waterfall-table"')[1].split("</table>")[0]
    for expected in (">40.0 %<", ">+26.7 %<", ">+33.3 %<", ">0.0 %<", ">-66.7 %<"):
        assert expected in table, expected
    assert 'id="waterfall-actual">33.3 %<' in table
    groups = page.split('id="diagnosis-groups"')[1]
    assert "Tier A" in groups and "Tier B" in groups
    assert client.get(url + "&by=rm").status_code == 404  # an RM's figures have no RMs to split by
    by_segment = client.get(url + "&by=segment").content.decode()  # no segmentation published: one group
    assert by_segment.count("<tr data-group=") == 1 and "Not segmented" in by_segment
    by_stage = client.get(url + "&by=stage").content.decode()  # how far each October contact got
    assert all(f">{label}<" in by_stage for label in ("converted", "declined", "not reached"))
    assert "Call centre" in client.get(url + "&by=channel").content.decode()
    completeness = reverse("performance:diagnosis", args=["rm", "rm_a", "data-completeness"])
    assert client.get(completeness + f"?period={PERIOD}&by=channel").status_code == 404  # rows without a channel
    client.force_login(rm_a2)
    assert client.get(url).status_code == 403
