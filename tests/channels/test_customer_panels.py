"""The 360° page's contact panels: the timeline inline and by htmx, masking for another branch, the
touchpoint map and its header alerts, the quick log form, permissions and query budgets."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from channels.models import ChurnFlag, Complaint, Interaction, InteractionDailyCount, Task
from channels.services.interactions import NewInteraction, interaction_record, interactions_store
from crm_bank.audit.models import AuditEvent
from customers.models import Customer, Household
from tests.customers.factories import CustomerFactory, ProductFactory, account_for, transactions_for

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
QUERY_BUDGET_360 = 12
# Session, user, staff profile, customer, audit row, and the panel's own read(s).
QUERY_BUDGET_PANEL = 6


def _detail(customer: Customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


def _timeline_url(customer: Customer, query: str = "") -> str:
    return reverse("channels:customer-timeline", args=[customer.pk]) + query


def _log_url(customer: Customer) -> str:
    return reverse("channels:interaction-log", args=[customer.pk])


def _panel(page: str, panel_id: str) -> str:
    start = page.index(f'id="{panel_id}"')
    return page[start: page.index("</section>", start)]


def _history(customer: Customer, count: int, *, staff=None, start: datetime.datetime = NOW) -> list[Interaction]:
    channels = ["atm", "web", "mobile", "branch", "call_centre"]
    return interactions_store(items=[
        NewInteraction(
            customer_id=customer.pk, channel=channels[n % len(channels)], kind="transaction", direction="inbound",
            occurred_at=start - datetime.timedelta(hours=n), summary=f"Contact number {n}", outcome=f"Outcome {n}",
            staff_id=staff.pk if staff else None,
        )
        for n in range(count)
    ])


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-interaction="(\d+)"', html)]


def _cursor(html: str) -> str:
    return re.search(r'before=([A-Za-z0-9_-]+)"', html).group(1)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# The timeline on the page and by htmx


def test_360_page_shows_the_first_timeline_page_newest_first(client, rm_a, customer_a):
    stored = _history(customer_a, 25, staff=rm_a)
    client.force_login(rm_a)

    timeline = _panel(client.get(_detail(customer_a)).content.decode(), "timeline-panel")

    assert _ids(timeline) == [row.pk for row in stored[:20]]
    assert "Contact number 0" in timeline and "Outcome 0" in timeline and "Contact number 20" not in timeline
    assert 'id="timeline-load-more"' in timeline
    assert 'hx-trigger="timeline-changed from:body"' in timeline


def test_360_page_no_longer_lists_campaign_contacts_from_campaigns(client, rm_a, customer_a):
    interactions_store(items=[NewInteraction(
        customer_id=customer_a.pk, channel="call_centre", kind="campaign_contact", direction="outbound",
        occurred_at=NOW - datetime.timedelta(days=3), summary="Offered the savings plan", campaign_code="SAVE26",
    )])
    client.force_login(rm_a)

    timeline = _panel(client.get(_detail(customer_a)).content.decode(), "timeline-panel")

    assert "Campaign contact" in timeline and "Campaign SAVE26" in timeline and 'data-campaign="SAVE26"' in timeline


def test_360_page_timeline_empty_state(client, rm_a, customer_a):
    client.force_login(rm_a)
    timeline = _panel(client.get(_detail(customer_a)).content.decode(), "timeline-panel")
    assert "No interactions recorded yet" in timeline and "timeline-load-more" not in timeline


def test_timeline_load_more_appends_the_next_rows_without_duplicates(client, django_assert_max_num_queries, rm_a,
                                                                     customer_a):
    stored = _history(customer_a, 45)
    client.force_login(rm_a)
    first = _panel(client.get(_detail(customer_a)).content.decode(), "timeline-panel")

    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        second = client.get(_timeline_url(customer_a, f"?channel=&kind=&before={_cursor(first)}"),
                            HTTP_HX_REQUEST="true").content.decode()
    third = client.get(_timeline_url(customer_a, f"?before={_cursor(second)}"), HTTP_HX_REQUEST="true").content.decode()

    assert 'id="timeline-panel"' not in second  # rows only, swapped in place of the button
    assert _ids(first) + _ids(second) + _ids(third) == [row.pk for row in stored]
    assert "timeline-load-more" not in third


def test_timeline_filter_by_channel_and_kind_through_htmx(client, django_assert_max_num_queries, rm_a, customer_a):
    _history(customer_a, 10)
    interaction_record(customer=customer_a, actor=rm_a, channel="web", kind="enquiry", direction="inbound",
                       occurred_at=NOW - datetime.timedelta(days=30), summary="Asked about fees")
    client.force_login(rm_a)

    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        web = client.get(_timeline_url(customer_a, "?channel=web"), HTTP_HX_REQUEST="true").content.decode()
    enquiry = client.get(_timeline_url(customer_a, "?channel=web&kind=enquiry"), HTTP_HX_REQUEST="true")

    assert web.startswith("\n<section") or 'id="timeline-panel"' in web
    assert set(re.findall(r'data-channel="(\w+)" data-kind', web)) == {"web"} and len(_ids(web)) == 3
    assert 'class="nav-link py-1 px-2 active" data-channel="web"' in web
    assert len(_ids(enquiry.content.decode())) == 1 and "Asked about fees" in enquiry.content.decode()
    assert f'hx-get="/channels/customers/{customer_a.pk}/timeline/?channel=web&amp;kind=enquiry"' \
        in enquiry.content.decode()


def test_timeline_filter_with_no_match_says_so(client, rm_a, customer_a):
    _history(customer_a, 3)
    client.force_login(rm_a)
    page = client.get(_timeline_url(customer_a, "?channel=sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "No contacts match these filters." in page and not _ids(page)


@pytest.mark.parametrize("query", ["?before=not-a-cursor", "?before=" + "A" * 200, "?channel=pigeon&kind=%00",
                                   "?before=%F0%9F%92%A9"])
def test_timeline_bad_input_gives_the_first_page_not_an_error(client, rm_a, customer_a, query):
    stored = _history(customer_a, 3)
    client.force_login(rm_a)
    response = client.get(_timeline_url(customer_a, query), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _ids(response.content.decode()) == [row.pk for row in stored]


def test_timeline_without_htmx_is_a_page_of_its_own(client, rm_a, customer_a):
    _history(customer_a, 2)
    client.force_login(rm_a)
    page = client.get(_timeline_url(customer_a)).content.decode()
    assert "<html" in page and 'id="timeline-panel"' in page and len(_ids(page)) == 2


def test_timeline_audits_each_read_with_its_purpose(client, rm_b, customer_a):
    client.force_login(rm_b)
    client.get(_timeline_url(customer_a), HTTP_HX_REQUEST="true")
    event = AuditEvent.objects.get(actor=rm_b, object_id=str(customer_a.pk))
    assert event.outcome == AuditEvent.Outcome.MASKED and event.detail["purpose"] == "timeline"


# Masking


def test_another_branchs_rm_sees_when_channel_kind_and_staff_but_not_what_was_said(client, rm_a, rm_b, customer_a):
    rm_a.first_name, rm_a.last_name = "Petr", "Svoboda"
    rm_a.save(update_fields=["first_name", "last_name"])
    interaction_record(customer=customer_a, actor=rm_a, channel="branch", kind="service_request",
                       direction="inbound", occurred_at=NOW - datetime.timedelta(hours=2),
                       summary="Wants to raise the overdraft to 80,000", outcome="Sent to credit")
    for viewer, page_getter in ((rm_b, lambda: client.get(_detail(customer_a))),
                                (rm_b, lambda: client.get(_timeline_url(customer_a), HTTP_HX_REQUEST="true"))):
        client.force_login(viewer)
        timeline = _panel(page_getter().content.decode(), "timeline-panel")
        assert "Branch counter" in timeline and "Service request" in timeline and "Inbound" in timeline
        assert "Petr Svoboda" in timeline
        assert "overdraft" not in timeline and "80,000" not in timeline and "Sent to credit" not in timeline
        assert 'data-masked="true"' in timeline and "****" in timeline

    client.force_login(rm_a)
    own = _panel(client.get(_detail(customer_a)).content.decode(), "timeline-panel")
    assert "Wants to raise the overdraft to 80,000" in own and "Sent to credit" in own
    assert 'data-masked="true"' not in own


# Touchpoints and the header alerts


def _touchpoints(client, customer: Customer) -> str:
    response = client.get(reverse("channels:customer-touchpoints", args=[customer.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def _row(panel: str, channel: str) -> str:
    start = panel.index(f'data-touchpoint="{channel}"')
    return panel[start: panel.index("</tr>", start)]


def test_touchpoint_map_shows_last_contact_per_channel_with_days_ago(client, django_assert_max_num_queries, rm_a,
                                                                    customer_a):
    _history(customer_a, 5, start=NOW - datetime.timedelta(days=3))
    interaction_record(customer=customer_a, actor=rm_a, channel="web", kind="enquiry", direction="inbound",
                       occurred_at=NOW - datetime.timedelta(minutes=5), summary="Chat")
    client.force_login(rm_a)

    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        panel = _touchpoints(client, customer_a)

    assert "(today)" in _row(panel, "web") and "Enquiry" in _row(panel, "web")
    assert "(3 days ago)" in _row(panel, "atm") and "11/27/2026" in _row(panel, "atm")
    assert "never" in _row(panel, "sms")
    assert 'id="preferred-channel-warning"' not in panel  # no preferred channel recorded
    # The header's "last contact" follows a contact logged on the page.
    assert '<span id="last-contact" hx-swap-oob="true">11/30/2026 (Internet banking)</span>' in panel


@pytest.mark.parametrize(("last_days_ago", "warned"), [(None, True), (200, True), (180, True), (179, False)])
def test_touchpoint_map_warns_when_the_preferred_channel_is_unused(client, settings, rm_a, customer_a,
                                                                  last_days_ago, warned):
    settings.CRM_PREFERRED_CHANNEL_UNUSED_DAYS = 180
    customer_a.preferred_channel = "email"
    customer_a.save(update_fields=["preferred_channel"])
    _history(customer_a, 1)  # an ATM contact today does not count for e-mail
    if last_days_ago is not None:
        interaction_record(customer=customer_a, actor=rm_a, channel="email", kind="enquiry", direction="outbound",
                           occurred_at=NOW - datetime.timedelta(days=last_days_ago), summary="Statement question")
    client.force_login(rm_a)

    panel = _touchpoints(client, customer_a)

    assert ('id="preferred-channel-warning"' in panel) is warned
    assert "data-preferred" in _row(panel, "email")
    if warned:
        expected = "has never been used" if last_days_ago is None else "has not been used in the last 180 days"
        assert expected in panel and "E-mail" in panel[panel.index("preferred-channel-warning"):]


def test_touchpoint_panel_fills_the_header_complaints_alert_and_churn_flag(client, rm_a, rm_b, customer_a):
    for status in (Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS, Complaint.Status.CLOSED):
        Complaint.objects.create(
            customer=customer_a, channel="branch", category=Complaint.Category.FEES, description="Charged twice",
            branch=customer_a.home_branch, opened_at=NOW, sla_due_at=NOW + datetime.timedelta(days=1), status=status,
        )
    ChurnFlag.objects.create(customer=customer_a, raised_at=NOW, reason="Complaint from a top customer")
    client.force_login(rm_a)

    page = client.get(_detail(customer_a)).content.decode()
    panel = _touchpoints(client, customer_a)

    assert '<span id="churn-flag" class="d-none"></span>' in page
    assert '<span id="open-complaints" class="d-none"></span>' in page
    assert re.search(r'<span id="open-complaints" hx-swap-oob="true"[^>]*>Open complaints: 2</span>', panel)
    flag = re.search(r'<span id="churn-flag" hx-swap-oob="true"[^>]*>Churn risk flagged</span>', panel).group(0)
    assert "Complaint from a top customer" in flag

    client.force_login(rm_b)  # another branch sees that a flag is raised, not why
    other = _touchpoints(client, customer_a)
    assert "Churn risk flagged" in other and "Complaint from a top customer" not in other


def test_touchpoint_panel_clears_the_header_alerts_when_nothing_is_open(client, rm_a, customer_a):
    client.force_login(rm_a)
    panel = _touchpoints(client, customer_a)
    assert '<span id="churn-flag" hx-swap-oob="true" class="d-none"></span>' in panel
    assert '<span id="open-complaints" hx-swap-oob="true" class="d-none"></span>' in panel
    assert 'id="last-contact"' not in panel  # nothing on the timeline: the header keeps its own text


# Query budgets


@pytest.mark.parametrize("interactions", [0, 500])
def test_360_page_query_budget_whatever_the_contact_history(client, django_assert_max_num_queries, rm_a, rm_a2,
                                                            customer_a, interactions):
    household = Household.objects.create(name="Novak family")
    customer_a.household = household
    customer_a.save(update_fields=["household"])
    CustomerFactory(home_branch=customer_a.home_branch, household=household)
    transactions_for(account_for(customer_a), 30)
    _history(customer_a, interactions, staff=rm_a2)
    client.force_login(rm_a)

    with django_assert_max_num_queries(QUERY_BUDGET_360):
        page = client.get(_detail(customer_a)).content.decode()
    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        _touchpoints(client, customer_a)
    with django_assert_max_num_queries(QUERY_BUDGET_PANEL):
        client.get(_timeline_url(customer_a, "?kind=transaction"), HTTP_HX_REQUEST="true")

    assert len(_ids(_panel(page, "timeline-panel"))) == min(interactions, 20)


# Quick log form


def _form_data(**overrides) -> dict:
    data = {"channel": "call_centre", "kind": "enquiry", "direction": "inbound",
            "occurred_at": "2026-11-30T10:30", "summary": "Asked about the mortgage rate", "outcome": "Sent offer",
            "follow_up_on": ""}
    data.update(overrides)
    return data


def test_quick_log_form_partial_defaults_to_now_in_local_time(client, rm_b, customer_a):
    client.force_login(rm_b)
    response = client.get(_log_url(customer_a), HTTP_HX_REQUEST="true")
    form = response.content.decode()
    assert response.status_code == 200 and 'id="interaction-log-form"' in form
    assert 'value="2026-11-30T11:00"' in form  # 10:00 UTC is 11:00 in Prague
    assert 'value="complaint"' not in form  # complaints have their own form


def test_quick_log_stores_the_contact_and_tells_the_timeline_to_reload(client, rm_a, customer_a):
    client.force_login(rm_a)

    response = client.post(_log_url(customer_a), _form_data(), HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response["HX-Trigger"] == "timeline-changed"
    assert 'id="interaction-logged"' in response.content.decode()
    stored = Interaction.objects.get(customer=customer_a)
    assert stored.occurred_at == datetime.datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # 10:30 Prague
    assert (stored.channel, stored.kind, stored.staff_id) == ("call_centre", "enquiry", rm_a.pk)
    assert (stored.summary, stored.outcome) == ("Asked about the mortgage rate", "Sent offer")
    assert AuditEvent.objects.filter(actor=rm_a, object_type="interaction", object_id=str(stored.pk)).exists()
    assert not Task.objects.exists()
    timeline = client.get(_timeline_url(customer_a), HTTP_HX_REQUEST="true").content.decode()
    assert _ids(timeline)[0] == stored.pk


def test_quick_log_from_another_branch_is_allowed_and_its_summary_stays_masked_for_them(client, rm_b, customer_a):
    client.force_login(rm_b)
    response = client.post(_log_url(customer_a), _form_data(summary="Walked in at our branch"),
                           HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "timeline-changed"
    timeline = client.get(_timeline_url(customer_a), HTTP_HX_REQUEST="true").content.decode()
    assert len(_ids(timeline)) == 1 and "Walked in" not in timeline
    assert f"{rm_b.first_name} {rm_b.last_name}" in timeline


def test_quick_log_with_a_follow_up_date_creates_a_task_for_the_logging_user(client, rm_b, customer_a):
    client.force_login(rm_b)

    client.post(_log_url(customer_a), _form_data(follow_up_on="2026-12-03"), HTTP_HX_REQUEST="true")

    task = Task.objects.get()
    stored = Interaction.objects.get()
    assert (task.assignee, task.kind, task.customer, task.interaction_id) == (
        rm_b, Task.Kind.FOLLOW_UP, customer_a, stored.pk)
    assert timezone.localtime(task.due_at).date() == datetime.date(2026, 12, 3)
    assert "Jana Novakova" in task.title and "Asked about the mortgage rate" in task.detail
    assert AuditEvent.objects.filter(actor=rm_b, object_type="task", object_id=str(task.pk)).exists()


def test_quick_log_sent_twice_is_stored_once(client, rm_a, customer_a):
    client.force_login(rm_a)
    data = _form_data(follow_up_on="2026-12-03")

    first = client.post(_log_url(customer_a), data, HTTP_HX_REQUEST="true")
    again = client.post(_log_url(customer_a), data, HTTP_HX_REQUEST="true")
    changed = client.post(_log_url(customer_a), {**data, "summary": "Called back with the rate"},
                          HTTP_HX_REQUEST="true")

    assert first["HX-Trigger"] == again["HX-Trigger"] == changed["HX-Trigger"] == "timeline-changed"
    assert Interaction.objects.filter(customer=customer_a).count() == 2
    assert Task.objects.count() == 2
    assert InteractionDailyCount.objects.get().count == 2


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"summary": "   "}, "summary", "This field is required."),
    ({"channel": "pigeon"}, "channel", "Select a valid choice."),
    ({"kind": "complaint"}, "kind", "Select a valid choice."),
    ({"direction": "sideways"}, "direction", "Select a valid choice."),
    ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
    ({"occurred_at": "2026-12-01T10:00"}, "occurred_at", "The contact cannot be in the future."),
    ({"summary": "x" * 501}, "summary", "Ensure this value has at most 500 characters"),
    ({"follow_up_on": "2026-11-01"}, "follow_up_on", "The follow-up date cannot be in the past."),
])
def test_quick_log_bad_input_shows_the_message_at_the_field_and_writes_nothing(client, rm_a, customer_a, overrides,
                                                                              field, message):
    client.force_login(rm_a)

    data = _form_data(follow_up_on="2026-12-03")
    data.update(overrides)

    response = client.post(_log_url(customer_a), data, HTTP_HX_REQUEST="true")

    form = response.content.decode()
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert 'id="interaction-log-errors"' in form
    assert re.search(rf'id="error_1_id_{field}"[^>]*>\s*<strong>{re.escape(message)}', form), form
    assert not Interaction.objects.exists() and not Task.objects.exists()
    assert not InteractionDailyCount.objects.exists()
    assert Customer.objects.get(pk=customer_a.pk).last_contact_at is None


def test_quick_log_and_panels_refuse_users_without_a_staff_role(client, no_role_user, customer_a):
    client.force_login(no_role_user)
    for url in (_log_url(customer_a), _timeline_url(customer_a),
                reverse("channels:customer-touchpoints", args=[customer_a.pk])):
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(_log_url(customer_a), _form_data(), HTTP_HX_REQUEST="true").status_code == 403
    assert not Interaction.objects.exists()
    assert AuditEvent.objects.filter(actor=no_role_user, outcome=AuditEvent.Outcome.DENIED).count() == 4


def test_panels_of_an_unknown_customer_are_404(client, rm_a):
    client.force_login(rm_a)
    for name in ("channels:customer-timeline", "channels:customer-touchpoints", "channels:interaction-log"):
        assert client.get(reverse(name, args=[999_999]), HTTP_HX_REQUEST="true").status_code == 404


def test_360_header_has_the_quick_actions(client, rm_a, customer_a):
    client.force_login(rm_a)
    page = client.get(_detail(customer_a)).content.decode()
    header = page[page.index('id="customer-header"'): page.index("</header>")]
    assert f'hx-get="{_log_url(customer_a)}"' in header and 'hx-target="#quick-action"' in header
    assert 'id="quick-action"' in page
    assert f'hx-get="{reverse("channels:customer-touchpoints", args=[customer_a.pk])}"' in page


def test_quick_log_feedback_needs_a_product_and_reaches_its_owner(client, rm_a, customer_a, supervisor_a):
    product = ProductFactory(owner=supervisor_a)
    client.force_login(rm_a)
    body = {"channel": "branch", "kind": "feedback", "direction": "inbound", "occurred_at": "2026-11-02T10:00",
            "summary": "The new app's transfer screen is confusing"}
    refused = client.post(_log_url(customer_a), body, HTTP_HX_REQUEST="true")
    assert "Say which product the feedback is about" in refused.content.decode()
    assert not Interaction.objects.filter(customer=customer_a).exists()
    stored = client.post(_log_url(customer_a), {**body, "product": product.pk}, HTTP_HX_REQUEST="true")
    assert stored.headers["HX-Trigger"] == "timeline-changed"
    assert Interaction.objects.get(customer=customer_a).product_id == product.pk
    assert Task.objects.filter(assignee=supervisor_a, kind=Task.Kind.FEEDBACK_RESPONSE).count() == 1
