"""Complaint pages: the open form (htmx), the queue, the case page and its actions, the report;
permissions and query budgets."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from channels.models import Complaint, ComplaintEvent, EscalationContact, Interaction, Notification, Task
from channels.models.complaints import Level
from channels.services.complaints import complaint_open, complaint_update_status, complaints_escalate_due
from crm_bank.org.models import StaffProfile
from tests.channels.test_complaints import complaint_slas  # noqa: F401  (autouse)
from tests.customers.factories import CustomerFactory
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD = {"channel": "branch", "category": "fees", "severity": "high", "description": "Charged a fee twice"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _open(customer, actor, at=NOW, **changes):
    return complaint_open(customer=customer, actor=actor, at=at, **{**GOOD, **changes})


# --- the open form -------------------------------------------------------------------------------------

def test_open_form_via_htmx_is_a_partial(client, rm_a, customer_a):
    client.force_login(rm_a)
    response = client.get(reverse("channels:complaint-open", args=[customer_a.pk]), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="complaint-open-panel"' in body and 'name="skip_level_to"' in body and 'name="description"' in body


def test_open_form_post_via_htmx_opens_the_case_and_triggers_the_timeline(client, rm_a, customer_a):
    client.force_login(rm_a)
    response = client.post(reverse("channels:complaint-open", args=[customer_a.pk]),
                           {**GOOD, "product": "", "skip_level_to": ""}, **HTMX)
    complaint = Complaint.objects.get()
    assert response.status_code == 200 and response["HX-Trigger"] == "timeline-changed"
    assert f"Complaint #{complaint.pk} opened" in response.content.decode()
    assert (complaint.customer, complaint.owner, complaint.opened_by, complaint.severity) == (
        customer_a, rm_a, rm_a, "high")


def test_open_form_sent_twice_opens_one_case_with_one_task_and_one_notification(client, rm_a, customer_a):
    """A double click or a retried request: the second post finds the first's case."""
    client.force_login(rm_a)
    url = reverse("channels:complaint-open", args=[customer_a.pk])
    form = client.get(url, **HTMX).content.decode()
    assert 'hx-disabled-elt="find button[type=submit]"' in form  # the button is off while the post runs
    first = client.post(url, {**GOOD, "product": "", "skip_level_to": ""}, **HTMX)
    with time_machine.travel(NOW + datetime.timedelta(minutes=2), tick=False):
        second = client.post(url, {**GOOD, "product": "", "skip_level_to": ""}, **HTMX)
    complaint = Complaint.objects.get()
    assert first.status_code == second.status_code == 200
    assert f"Complaint #{complaint.pk} opened" in second.content.decode()
    assert Task.objects.filter(complaint=complaint).count() == 1
    assert Notification.objects.filter(recipient=rm_a, kind=Notification.Kind.COMPLAINT_ASSIGNED).count() == 1
    assert Interaction.objects.filter(complaint=complaint).count() == 1


def test_case_numbers_are_shown_without_a_thousands_separator(client, rm_a, customer_a):
    """A case number is an identifier: #12345, never #12,345 (the pages localise numbers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), 12344)", [Complaint._meta.db_table])
    client.force_login(rm_a)
    opened = client.post(reverse("channels:complaint-open", args=[customer_a.pk]),
                         {**GOOD, "product": "", "skip_level_to": ""}, **HTMX).content.decode()
    assert Complaint.objects.get().pk == 12345 and "Complaint #12345 opened" in opened
    assert 'data-complaint="12345"' in client.get(reverse("channels:complaint-queue")).content.decode()
    page = client.get(reverse("channels:complaint-detail", args=[12345])).content.decode()
    assert "Complaint #12345" in page and "12,345" not in page


def test_open_form_bad_input_shows_errors_and_writes_nothing(client, rm_a, customer_a):
    client.force_login(rm_a)
    response = client.post(reverse("channels:complaint-open", args=[customer_a.pk]),
                           {"channel": "pigeon", "category": "fees", "severity": "high", "description": " ",
                            "skip_level_to": "9"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert "Please correct the fields marked below." in body and "invalid-feedback" in body
    assert not Complaint.objects.exists()


def test_open_form_without_htmx_redirects_to_the_case(client, rm_a, customer_a):
    client.force_login(rm_a)
    response = client.post(reverse("channels:complaint-open", args=[customer_a.pk]),
                           {**GOOD, "skip_level_to": str(Level.HEAD_OFFICE.value)})
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("channels:complaint-detail",
                                                                           args=[complaint.pk])
    assert complaint.is_skip_level


def test_open_form_needs_a_staff_role(client, no_role_user, customer_a):
    client.force_login(no_role_user)
    assert client.get(reverse("channels:complaint-open", args=[customer_a.pk]), **HTMX).status_code == 403
    assert client.post(reverse("channels:complaint-open", args=[customer_a.pk]), GOOD, **HTMX).status_code == 403
    assert not Complaint.objects.exists()


# --- the queue -----------------------------------------------------------------------------------------

def _queue_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-complaint="(\d+)"', response.content.decode())]


def test_queue_shows_the_branch_breached_first_with_badges(client, supervisor_a, rm_a, rm_b, branch_a, branch_b,
                                                           django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(3, home_branch=branch_a, primary_rm=rm_a)
    soon = _open(customers[0], rm_a, at=NOW - datetime.timedelta(hours=40))  # high: 48 h → 8 h left (< 25%)
    later = _open(customers[1], rm_a)  # 48 h left
    breached = _open(customers[2], rm_a, at=NOW - datetime.timedelta(hours=50))
    other_branch = _open(CustomerFactory(home_branch=branch_b, primary_rm=rm_b), rm_b)
    for customer in CustomerFactory.create_batch(25, home_branch=branch_a, primary_rm=rm_a):
        _open(customer, rm_a, severity="low")
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("channels:complaint-queue"))
    ids = _queue_ids(response)
    assert response.status_code == 200 and len(ids) == 25  # one page
    assert ids[:3] == [breached.pk, soon.pk, later.pk] and other_branch.pk not in ids
    body = response.content.decode()
    assert 'data-sla="breached"' in body and "Breached" in body
    assert 'data-sla="at_risk"' in body and "Less than 25% left" in body
    assert 'data-sla="on_time"' in body and "On time" in body
    assert "28 cases" in body
    low = client.get(reverse("channels:complaint-queue"), {"severity": "low"}).content.decode()
    assert "25 cases" in low and "?severity=low&amp;page=2" not in low  # one full page, no second
    second = client.get(reverse("channels:complaint-queue"), {"status": "all", "page": 2})
    assert len(_queue_ids(second)) == 3 and "?status=all&amp;page=1" in second.content.decode()  # filters kept


def test_queue_filters(client, supervisor_a, rm_a, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a)
    fees = _open(customer, rm_a)
    card = _open(customer, rm_a, category="card", severity="low")
    skip = _open(customer, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    client.force_login(supervisor_a)
    url = reverse("channels:complaint-queue")
    assert _queue_ids(client.get(url, {"category": "card"})) == [card.pk]
    assert _queue_ids(client.get(url, {"skip_level": "yes"})) == [skip.pk]
    assert set(_queue_ids(client.get(url, {"severity": "high", "skip_level": "no"}))) == {fees.pk}
    complaint_update_status(complaint=card, actor=rm_a, status="resolved", resolution="Refunded")
    assert card.pk not in _queue_ids(client.get(url))
    assert _queue_ids(client.get(url, {"status": "resolved"})) == [card.pk]


def test_queue_of_an_rm_lists_their_own_cases(client, rm_a, rm_a2, branch_a):
    mine = _open(CustomerFactory(home_branch=branch_a, primary_rm=rm_a), rm_a)
    _open(CustomerFactory(home_branch=branch_a, primary_rm=rm_a2), rm_a2)
    client.force_login(rm_a)
    assert _queue_ids(client.get(reverse("channels:complaint-queue"))) == [mine.pk]


def test_a_regional_head_configured_after_the_escalation_sees_and_opens_the_case(
        client, rm_a, rm_b, customer_a, branch_a, branch_b, django_assert_max_num_queries):
    branch_a.region, branch_b.region = "North", "South"
    branch_a.save(update_fields=["region"])
    branch_b.save(update_fields=["region"])
    former = StaffProfileFactory(user__username="head_north_old", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    contact = EscalationContact.objects.create(level=Level.REGIONAL_HEAD, region="North", user=former)
    north = _open(customer_a, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    _open(customer_a, rm_a, description="Still with the branch")  # level 0: not the regional head's
    south = _open(CustomerFactory(home_branch=branch_b, primary_rm=rm_b), rm_b, skip_level_to=Level.REGIONAL_HEAD)
    assert (north.owner, north.level) == (former, Level.REGIONAL_HEAD) and south.level >= Level.REGIONAL_HEAD
    head = StaffProfileFactory(user__username="head_north", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    contact.user = head
    contact.save(update_fields=["user"])
    client.force_login(head)
    with django_assert_max_num_queries(11):
        queue = client.get(reverse("channels:complaint-queue"))
    assert _queue_ids(queue) == [north.pk]
    page = client.get(reverse("channels:complaint-detail", args=[north.pk]))
    assert page.status_code == 200 and 'id="status-form"' in page.content.decode()
    assert client.get(reverse("channels:complaint-detail", args=[south.pk])).status_code == 403
    # The former head, no longer the contact, still follows the case they held.
    client.force_login(former)
    assert client.get(reverse("channels:complaint-detail", args=[north.pk])).status_code == 200


# --- the case page -------------------------------------------------------------------------------------

def test_case_page_shows_events_and_actions(client, supervisor_a, rm_a, customer_a, django_assert_max_num_queries):
    complaint = _open(customer_a, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("channels:complaint-detail", args=[complaint.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('<li class="list-group-item small" data-kind=') == 2
    assert 'data-masked="false"' in body and "Charged a fee twice" in body
    assert 'id="status-form"' in body and 'id="assign-form"' in body and 'id="answer-form"' in body
    assert "The branch has not answered yet." in body
    assert body.split("<main")[1].count('name="csrfmiddlewaretoken"') == 3  # one per action form
    linked = re.search(r'id="complaint-interactions">(.*?)</ul>', body, re.S).group(1)
    assert "Charged a fee twice" in linked and "Branch counter" in linked


def test_another_branchs_supervisor_can_neither_see_nor_act(client, supervisor_b, rm_a, customer_a):
    complaint = _open(customer_a, rm_a)
    client.force_login(supervisor_b)
    assert client.get(reverse("channels:complaint-detail", args=[complaint.pk])).status_code == 403
    for name, data in (("complaint-status", {"status": "in_progress"}),
                       ("complaint-assign", {"assignee": rm_a.pk}), ("complaint-answer", {"answer": "x"})):
        assert client.post(reverse(f"channels:{name}", args=[complaint.pk]), data).status_code == 403
    complaint.refresh_from_db()
    assert complaint.status == "open" and not ComplaintEvent.objects.filter(complaint=complaint, kind="status").exists()


def test_status_action_changes_the_case_and_bad_input_writes_nothing(client, supervisor_a, rm_a, customer_a):
    complaint = _open(customer_a, rm_a)
    client.force_login(supervisor_a)
    url = reverse("channels:complaint-status", args=[complaint.pk])
    refused = client.post(url, {"status": "resolved", "resolution": ""})
    assert refused.status_code == 400 and "Say how the complaint was resolved." in refused.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == "open"
    done = client.post(url, {"status": "resolved", "resolution": "Fee refunded"})
    assert done.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.resolution) == ("resolved", "Fee refunded")


def test_assign_action(client, supervisor_a, rm_a, rm_a2, rm_b, customer_a):
    complaint = _open(customer_a, rm_a)
    client.force_login(supervisor_a)
    url = reverse("channels:complaint-assign", args=[complaint.pk])
    assert client.post(url, {"assignee": rm_b.pk}).status_code == 400  # not a member of the branch
    assert client.post(url, {"assignee": rm_a2.pk}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.owner == rm_a2


def test_a_former_owner_outside_the_branch_sees_the_description_masked(client, rm_a, customer_a, branch_a):
    branch_a.region = "North"
    branch_a.save(update_fields=["region"])
    regional = StaffProfileFactory(user__username="head_north", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.REGIONAL_HEAD, region="North", user=regional)
    head_office = StaffProfileFactory(user__username="centre", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.HEAD_OFFICE, region="", user=head_office)
    complaint = _open(customer_a, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    client.force_login(regional)
    handling = client.get(reverse("channels:complaint-detail", args=[complaint.pk])).content.decode()
    assert "Charged a fee twice" in handling  # the case's handler reads it in full
    complaints_escalate_due(now=complaint.sla_due_at)  # now head office holds it
    former = client.get(reverse("channels:complaint-detail", args=[complaint.pk])).content.decode()
    assert "Charged a fee twice" not in former and 'data-masked="true"' in former


# --- the report ----------------------------------------------------------------------------------------

def test_report_counts_compliance_and_skip_level_per_branch(client, supervisor_a, bank_admin, rm_a, rm_b,
                                                            branch_a, branch_b, django_assert_max_num_queries):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a)
    on_time = _open(customer, rm_a, at=NOW - datetime.timedelta(days=5))
    complaint_update_status(complaint=on_time, actor=rm_a, status="resolved", resolution="ok",
                            at=NOW - datetime.timedelta(days=4))
    _open(customer, rm_a, at=NOW - datetime.timedelta(days=5), description="Charged again")  # open past 48 h: missed
    _open(customer, rm_a, skip_level_to=Level.HEAD_OFFICE)
    _open(CustomerFactory(home_branch=branch_b, primary_rm=rm_b), rm_b, skip_level_to=Level.REGULATOR)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("channels:complaint-report"))
    body = response.content.decode()
    assert response.status_code == 200
    branch_row = re.search(r'<table[^>]*id="branch-compliance".*?</table>', body, re.S).group(0)
    assert "A01" in branch_row and "B02" not in branch_row  # a supervisor sees their branch
    assert re.search(r"A01 Alpha</td><td class=\"num\">3</td><td class=\"num\">1</td><td class=\"num\">1</td>"
                     r"<td class=\"num\">50.0</td>", branch_row)
    skip = re.search(r'<tr data-branch="A01">(.*?)</tr>', body, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', skip) == ["3", "1", "1"]

    client.force_login(bank_admin)
    everything = client.get(reverse("channels:complaint-report")).content.decode()
    assert 'data-branch="B02"' in everything


def test_report_is_for_supervisors(client, rm_a):
    client.force_login(rm_a)
    assert client.get(reverse("channels:complaint-report")).status_code == 403


def test_what_was_said_on_the_case_is_masked_for_a_viewer_who_may_not_act(client, rm_a, supervisor_a, customer_a,
                                                                          branch_a):
    from channels.services.complaints import complaint_answer_for_skipped_branch

    branch_a.region = "North"
    branch_a.save(update_fields=["region"])
    regional = StaffProfileFactory(user__username="head_north", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.REGIONAL_HEAD, region="North", user=regional)
    head_office = StaffProfileFactory(user__username="centre", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.HEAD_OFFICE, region="", user=head_office)
    complaint = _open(customer_a, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    complaint_answer_for_skipped_branch(complaint=complaint, actor=supervisor_a,
                                        answer="Clerk misread account 1234-5678 fees")
    complaints_escalate_due(now=complaint.sla_due_at)  # head office holds it; the regional head held it before
    complaint_update_status(complaint=complaint, actor=head_office, status="resolved",
                            resolution="Refunded 250 CZK to account 1234-5678")
    url = reverse("channels:complaint-detail", args=[complaint.pk])

    client.force_login(head_office)
    handling = client.get(url).content.decode()
    assert "Refunded 250 CZK" in handling and "Clerk misread" in handling

    client.force_login(regional)
    former = client.get(url).content.decode()
    assert "1234-5678" not in former and "Refunded 250" not in former and "Clerk misread" not in former
    resolution = re.search(r'id="complaint-resolution">(.*?)</dd>', former, re.S).group(1)
    answer = re.search(r'id="skipped-branch-answer">(.*?)</p>', former, re.S).group(1)
    assert 'data-masked="true"' in resolution and 'data-masked="true"' in answer
    events = re.search(r'id="complaint-events">(.*?)</ul>', former, re.S).group(1)
    assert events.count('data-masked="true"') >= 2  # the answer and the resolution as history notes


def test_the_skipped_branchs_supervisor_sees_only_the_answer_form(client, supervisor_a, rm_a, customer_a,
                                                                  branch_a, django_assert_max_num_queries):
    branch_a.region = "North"
    branch_a.save(update_fields=["region"])
    regional = StaffProfileFactory(user__username="head_north", role=StaffProfile.Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.REGIONAL_HEAD, region="North", user=regional)
    complaint = _open(customer_a, rm_a, skip_level_to=Level.REGIONAL_HEAD)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(18):
        body = client.get(reverse("channels:complaint-detail", args=[complaint.pk])).content.decode()
    assert 'id="answer-form"' in body
    assert 'id="status-form"' not in body and 'id="assign-form"' not in body
    assert client.post(reverse("channels:complaint-assign", args=[complaint.pk]),
                       {"assignee": rm_a.pk}).status_code == 403
    assert client.post(reverse("channels:complaint-status", args=[complaint.pk]),
                       {"status": "in_progress"}).status_code == 403
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.status) == (regional, "open")
    client.force_login(regional)
    held = client.get(reverse("channels:complaint-detail", args=[complaint.pk])).content.decode()
    assert 'id="status-form"' in held and 'id="assign-form"' in held and 'id="answer-form"' not in held


def test_staff_of_another_branch_who_open_a_case_go_back_to_the_customer(client, rm_b, customer_a):
    client.force_login(rm_b)
    response = client.post(reverse("channels:complaint-open", args=[customer_a.pk]), {**GOOD, "skip_level_to": ""})
    complaint = Complaint.objects.get()
    assert complaint.opened_by == rm_b and complaint.owner != rm_b
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:customer-detail", args=[customer_a.pk])
    assert client.get(reverse("channels:complaint-detail", args=[complaint.pk])).status_code == 403  # no new view
    partial = client.post(reverse("channels:complaint-open", args=[customer_a.pk]),
                          {**GOOD, "skip_level_to": ""}, **HTMX).content.decode()
    assert "opened and assigned to" in partial
    assert reverse("channels:complaint-detail", args=[Complaint.objects.latest("pk").pk]) not in partial
