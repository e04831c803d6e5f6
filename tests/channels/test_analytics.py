"""Channel analytics: weekly volumes, inbound/outbound and the channel mix from the daily rollup;
who may see which branch; bad filters; the query budget; the channels hub page."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from channels.models import Interaction, InteractionDailyCount
from channels.services.interactions import NewInteraction, interactions_store
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
URL = reverse("channels:analytics")
WEEK_1, WEEK_2 = datetime.date(2025, 3, 3), datetime.date(2025, 3, 10)  # Mondays


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=UTC)


@pytest.fixture
def contacts(branch_a, branch_b):
    """Branch A: week 1 three ATM in + one call-centre sale out; week 2 one web in.
    Branch B: week 2 two branch visits in + one call-centre sale out."""
    a, b = CustomerFactory(home_branch=branch_a), CustomerFactory(home_branch=branch_b)

    def item(customer, day, channel, kind, direction):
        return NewInteraction(customer_id=customer.pk, channel=channel, kind=kind, direction=direction,
                              occurred_at=_at(day), summary="x")

    interactions_store(items=[
        *[item(a, WEEK_1, "atm", "transaction", "inbound") for _ in range(3)],
        item(a, WEEK_1 + datetime.timedelta(days=2), "call_centre", "sale", "outbound"),
        item(a, WEEK_2, "web", "enquiry", "inbound"),
        *[item(b, WEEK_2 + datetime.timedelta(days=1), "branch", "visit", "inbound") for _ in range(2)],
        item(b, WEEK_2 + datetime.timedelta(days=4), "call_centre", "sale", "outbound"),
    ])
    return a, b


def test_analyst_sees_weekly_volumes_directions_and_mix_of_the_bank(client, analyst_b, contacts, branch_a, branch_b):
    client.force_login(analyst_b)
    response = client.get(URL, {"date_from": "2025-03-03", "date_to": "2025-03-16"})
    assert response.status_code == 200
    result = response.context["result"]
    assert result.weeks == [WEEK_1, WEEK_2]
    assert result.channels == ["atm", "call_centre", "branch", "web"]  # the vocabulary's order
    assert result.volume == {"atm": [3, 0], "call_centre": [1, 1], "branch": [0, 2], "web": [0, 1]}
    assert (result.inbound, result.outbound, result.total) == ([3, 3], [1, 1], 8)
    mix = {m.branch_id: m for m in result.branches}
    assert mix[branch_a.pk].counts == {"atm": 3, "call_centre": 1, "web": 1} and mix[branch_a.pk].total == 5
    assert mix[branch_b.pk].percent("branch") == pytest.approx(200 / 3)
    chart = response.context["chart"]
    assert [row["values"] for row in chart["directions"]] == [[3, 3], [1, 1]]
    assert chart["mix"][0]["values"] == [60.0, 0.0]  # ATM: 60 % of A's contacts, none of B's
    html = response.content.decode()
    assert 'id="channel-analytics-data"' in html and "chart.umd.min.js" in html
    assert '<td class="num">66.7</td>' in html  # the mix table: branch visits at B


def test_supervisor_sees_only_the_own_branch_by_default(client, supervisor_a, contacts, branch_a):
    client.force_login(supervisor_a)
    response = client.get(URL, {"date_from": "2025-03-03", "date_to": "2025-03-16"})
    result = response.context["result"]
    assert [m.branch_id for m in result.branches] == [branch_a.pk]
    assert result.total == 5 and "branch" not in result.channels


def test_supervisor_cannot_pick_another_branch(client, supervisor_b, contacts, branch_a):
    client.force_login(supervisor_b)
    response = client.get(URL, {"branch": branch_a.pk, "date_from": "2025-03-03", "date_to": "2025-03-16"})
    assert response.status_code == 200
    assert response.context["result"] is None
    assert "branch" in response.context["form"].errors
    assert "Alpha" not in response.content.decode()  # branch A is not even a choice


def test_relationship_manager_is_refused(client, rm_a, contacts):
    client.force_login(rm_a)
    assert client.get(URL).status_code == 403


def test_admin_picks_one_branch_and_a_kind(client, bank_admin, contacts, branch_b):
    client.force_login(bank_admin)
    response = client.get(URL, {"branch": branch_b.pk, "kind": "sale", "date_from": "2025-03-03",
                                "date_to": "2025-03-16"})
    result = response.context["result"]
    assert result.volume == {"call_centre": [0, 1]} and result.total == 1


def test_default_range_is_twelve_weeks_up_to_the_latest_day_with_data(client, analyst_b, contacts):
    client.force_login(analyst_b)  # the data is from 2025; today is later: no "now" in the default
    response = client.get(URL)
    result = response.context["result"]
    latest = WEEK_2 + datetime.timedelta(days=4)
    assert result.date_to == latest and len(result.weeks) == 12 and result.weeks[-1] == WEEK_2
    assert result.total == 8
    html = response.content.decode()  # the filter shows the range it used
    assert 'name="date_from" id="id_date_from" class="form-control form-control-sm" value="2024-12-23"' in html
    assert 'value="2025-03-14"' in html


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"date_from": "2025-03-16", "date_to": "2025-03-03"}, "date_to", "must not be before"),
    ({"date_from": "2020-01-01", "date_to": "2025-03-03"}, "date_from", "at most two years"),
    ({"date_from": "3 March"}, "date_from", "Enter a valid date"),
    ({"kind": "gossip"}, "kind", "Select a valid choice"),
])
def test_bad_filters_say_what_is_wrong(client, analyst_b, contacts, params, field, message):
    client.force_login(analyst_b)
    response = client.get(URL, params)
    assert response.status_code == 200 and response.context["result"] is None
    assert message in " ".join(response.context["form"].errors[field])
    assert "Correct the filters above" in response.content.decode()


def test_empty_rollup_says_so(client, analyst_b):
    client.force_login(analyst_b)
    response = client.get(URL)
    assert response.context["result"] is None
    assert "No contacts are recorded yet" in response.content.decode()


def test_htmx_filter_returns_the_body_only(client, analyst_b, contacts):
    client.force_login(analyst_b)
    response = client.get(URL, {"kind": "visit"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'id="analytics-filter"' in html
    assert response.context["result"].total == 2


def test_page_reads_the_rollup_in_a_fixed_number_of_queries(client, analyst_b, branch_a, branch_b,
                                                             django_assert_max_num_queries):
    """A year of daily counts for every channel at both branches costs no more queries than a week,
    and the interaction table itself is never read."""
    rows = [
        InteractionDailyCount(day=datetime.date(2025, 1, 1) + datetime.timedelta(days=d), branch=branch,
                              channel=channel, kind="transaction", direction=direction, count=d + 1)
        for d in range(365) for branch in (branch_a, branch_b)
        for channel in ("atm", "web", "mobile", "branch") for direction in ("inbound", "outbound")
    ]
    InteractionDailyCount.objects.bulk_create(rows)
    client.force_login(analyst_b)
    with django_assert_max_num_queries(8) as captured:
        response = client.get(URL)
    assert response.status_code == 200 and len(response.context["result"].weeks) == 12
    assert not any(f'"{Interaction._meta.db_table}"' in q["sql"] for q in captured.captured_queries)


def test_hub_page_links_what_each_role_uses(client, rm_a, supervisor_a):
    client.force_login(rm_a)
    page = client.get(reverse("channels:index")).content.decode()
    assert URL not in page and "Channel analytics" not in page
    client.force_login(supervisor_a)
    response = client.get(reverse("channels:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{URL}"' in page and ">Channel analytics</a>" in page
    assert "Contacts per channel and week, inbound against outbound" in page
