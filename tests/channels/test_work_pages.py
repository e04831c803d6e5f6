"""Work pages: tasks, landing-page panels, book transfer, new prospect, ownership check, funnel."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.models import BookTransfer, Notification, Task
from channels.services.lifecycle import lifecycle_run_start
from channels.services.work import task_create
from customers.models import Customer
from customers.services import customer_create
from tests.customers.factories import CustomerFactory, account_for

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def open_task(rm_a, customer_a):
    return task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Call about the deposit",
                       due_at=timezone.now() - datetime.timedelta(days=1), customer=customer_a)


# Tasks

def test_task_list_shows_my_tasks_with_overdue_in_words(client, rm_a, open_task, django_assert_max_num_queries):
    client.force_login(rm_a)
    for n in range(30):
        task_create(assignee=rm_a, kind=Task.Kind.KYC_REFRESH, title=f"KYC {n}",
                    due_at=timezone.now() + datetime.timedelta(days=n))
    with django_assert_max_num_queries(8):
        page = client.get(reverse("channels:tasks"), {"status": "open"})
    body = page.content.decode()
    assert page.status_code == 200 and "Call about the deposit" in body and "Overdue since" in body
    assert "31 tasks" in body and "Page 1 of 2" in body and "status=open&amp;page=2" in body
    filtered = client.get(reverse("channels:tasks"), {"kind": "follow_up"}).content.decode()
    assert "Call about the deposit" in filtered and "KYC 3" not in filtered


def test_task_list_count_stops_at_the_cap(client, rm_a, open_task, monkeypatch, django_assert_max_num_queries):
    """A long task history is never counted to the end: past the cap the page says "more than"."""
    from crm_bank.ui.paginators import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "count_cap", 2)
    for n in range(3):
        task_create(assignee=rm_a, kind=Task.Kind.KYC_REFRESH, title=f"KYC {n}",
                    due_at=timezone.now() + datetime.timedelta(days=n))
    client.force_login(rm_a)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("channels:tasks"))
    body = page.content.decode()
    assert page.status_code == 200 and "More than 2 tasks" in body and "4 tasks" not in body


def test_task_done_with_one_htmx_click(client, rm_a, open_task):
    client.force_login(rm_a)
    response = client.post(reverse("channels:task-done", args=[open_task.pk]), {"compact": "1"}, **HTMX)
    assert response.status_code == 200 and "Done" in response.content.decode()
    open_task.refresh_from_db()
    assert open_task.status == Task.Status.DONE
    again = client.post(reverse("channels:task-done", args=[open_task.pk]), **HTMX)
    assert again.status_code == 200


def test_task_done_by_another_branch_rm_is_forbidden(client, rm_b, open_task):
    client.force_login(rm_b)
    assert client.post(reverse("channels:task-done", args=[open_task.pk]), **HTMX).status_code == 403
    open_task.refresh_from_db()
    assert open_task.status == Task.Status.OPEN


# Landing-page panels

def test_my_book_loads_the_work_panel(client, rm_a, open_task, settings, django_assert_max_num_queries):
    settings.CRM_TOP_CUSTOMER_BALANCE = 1000
    silent = CustomerFactory(home_branch=open_task.customer.home_branch, primary_rm=rm_a, first_name="Silent",
                             last_name="Saver")
    account_for(silent, balance=Decimal("50000"))
    Notification.objects.create(recipient=rm_a, kind=Notification.Kind.BOOK_TRANSFER, text="3 customers for you")
    client.force_login(rm_a)
    landing = client.get(reverse("customers:my-book")).content.decode()
    assert reverse("channels:my-work-panel") in landing
    with django_assert_max_num_queries(10):
        panel = client.get(reverse("channels:my-work-panel"), **HTMX)
    body = panel.content.decode()
    assert "Call about the deposit" in body and "Overdue since" in body
    assert "3 customers for you" in body
    assert "Silent Saver" in body and "never contacted" in body and "largest deposit balances" in body


def test_notifications_marked_read_by_htmx(client, rm_a):
    note = Notification.objects.create(recipient=rm_a, kind=Notification.Kind.CHURN_RISK, text="Churn risk: Jana")
    client.force_login(rm_a)
    response = client.post(reverse("channels:notifications-read"), {"id": note.pk}, **HTMX)
    assert response.status_code == 200 and "No unread notifications." in response.content.decode()
    note.refresh_from_db()
    assert note.read_at is not None


def test_branch_panel_for_the_supervisor_only(client, supervisor_a, rm_a, open_task, django_assert_max_num_queries):
    client.force_login(supervisor_a)
    dashboard = client.get(reverse("customers:branch-dashboard")).content.decode()
    assert reverse("channels:branch-work-panel") in dashboard
    with django_assert_max_num_queries(10):
        panel = client.get(reverse("channels:branch-work-panel"), **HTMX)
    assert panel.status_code == 200
    assert 'id="branch-overdue-tasks">1<' in panel.content.decode()
    client.force_login(rm_a)
    assert client.get(reverse("channels:branch-work-panel"), **HTMX).status_code == 403


# Book transfer

def test_book_transfer_page_moves_the_ticked_customers(client, supervisor_a, rm_a, rm_a2, branch_a,
                                                       django_assert_max_num_queries):
    customers = [customer_create(actor=None, cif=f"BT{i}", first_name=f"Pat{i}", last_name="Book",
                                 home_branch=branch_a, primary_rm=rm_a) for i in range(3)]
    client.force_login(supervisor_a)
    url = reverse("channels:book-transfer") + f"?from_rm={rm_a.pk}"
    with django_assert_max_num_queries(10):
        page = client.get(url)
    assert page.status_code == 200 and "Pat0 Book" in page.content.decode()
    response = client.post(url, {"from_rm": rm_a.pk, "to_rm": rm_a2.pk, "scope": "selected",
                                 "customers": [customers[0].pk, customers[2].pk], "reason": "rebalancing",
                                 "note": "Rebalance after the new hire"})
    assert response.status_code == 302
    assert set(Customer.objects.filter(primary_rm=rm_a2).values_list("pk", flat=True)) == {
        customers[0].pk, customers[2].pk}


@pytest.mark.parametrize("from_rm", ["²", "١٢", "-1", "1e3", "9" * 30, " 1"])
def test_book_transfer_page_ignores_a_from_rm_that_is_not_a_plain_number(client, supervisor_a, rm_a, from_rm):
    client.force_login(supervisor_a)
    response = client.get(reverse("channels:book-transfer"), {"from_rm": from_rm})
    assert response.status_code == 200 and response.context["from_rm"] is None


def test_book_transfer_page_refuses_another_branch_rm_with_a_message(client, supervisor_a, rm_a, rm_b, branch_a):
    customer_create(actor=None, cif="BT9", first_name="Pat", last_name="Stay", home_branch=branch_a, primary_rm=rm_a)
    client.force_login(supervisor_a)
    url = reverse("channels:book-transfer") + f"?from_rm={rm_a.pk}"
    response = client.post(url, {"from_rm": rm_a.pk, "to_rm": rm_b.pk, "scope": "all", "reason": "handover",
                                 "note": "n"})
    assert response.status_code == 200 and "works at another branch" in response.content.decode()
    assert Customer.objects.filter(primary_rm=rm_a).count() == 1 and not BookTransfer.objects.exists()


def test_book_transfer_page_is_for_supervisors_of_the_branch(client, rm_a, supervisor_b, rm_a2, branch_a):
    customer_create(actor=None, cif="BT8", first_name="Pat", last_name="Stay", home_branch=branch_a, primary_rm=rm_a)
    client.force_login(rm_a)
    assert client.get(reverse("channels:book-transfer")).status_code == 403
    client.force_login(supervisor_b)  # branch B's supervisor cannot pick branch A's RM
    response = client.post(reverse("channels:book-transfer"), {"from_rm": rm_a.pk, "to_rm": rm_a2.pk,
                                                               "scope": "all", "reason": "handover", "note": "n"})
    assert response.status_code == 200
    assert Customer.objects.filter(primary_rm=rm_a).count() == 1


# New prospect and the ownership check

def test_prospect_page_warns_then_saves_on_confirm(client, rm_b, branch_b, customer_a,
                                                   django_assert_max_num_queries):
    client.force_login(rm_b)
    assert client.get(reverse("channels:prospect-new")).status_code == 200
    data = {"kind": "individual", "first_name": "Jana", "last_name": "Nova", "national_id_type": "CZ_RC",
            "national_id": "710319/2745", "home_branch": branch_b.pk}
    with django_assert_max_num_queries(10):
        warned = client.post(reverse("channels:prospect-new"), data)
    body = warned.content.decode()
    assert warned.status_code == 200 and "already a customer of RM" in body and str(customer_a.home_branch) in body
    assert "Create anyway" in body and reverse("customers:customer-detail", args=[customer_a.pk]) in body
    assert Customer.objects.count() == 1
    created = client.post(reverse("channels:prospect-new"), {**data, "confirm": "1", "national_id": ""})
    assert created.status_code == 302
    prospect = Customer.objects.exclude(pk=customer_a.pk).get()
    assert prospect.lifecycle_stage == Customer.Lifecycle.PROSPECT and prospect.primary_rm == rm_b


def test_prospect_page_shows_field_errors_and_saves_nothing(client, rm_b, branch_b):
    client.force_login(rm_b)
    response = client.post(reverse("channels:prospect-new"), {"kind": "individual", "first_name": "Ann",
                                                              "last_name": "Lee", "phone": "601123456",
                                                              "home_branch": branch_b.pk})
    assert response.status_code == 200 and "country code" in response.content.decode()
    assert not Customer.objects.exists()


def test_ownership_check_partial(client, rm_b, customer_a, django_assert_max_num_queries):
    client.force_login(rm_b)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("channels:ownership-check"), {"phone": "+420 601 123 456"}, **HTMX)
    assert "already a customer of RM" in response.content.decode()
    empty = client.get(reverse("channels:ownership-check"), {"phone": "+420 777 000 000"}, **HTMX)
    assert "already a customer" not in empty.content.decode()


# Lifecycle funnel

def test_lifecycle_funnel_for_the_branch_supervisor(client, supervisor_a, rm_a, bank_admin, branch_a, branch_b,
                                                    django_assert_max_num_queries):
    prospect = CustomerFactory(home_branch=branch_a, lifecycle_stage=Customer.Lifecycle.PROSPECT,
                               customer_since=datetime.date(2026, 6, 1))
    account_for(prospect, opened_on=datetime.date(2026, 6, 1))
    CustomerFactory(home_branch=branch_b)
    first = lifecycle_run_start(as_of=datetime.date(2026, 6, 30), sync=True)
    second = lifecycle_run_start(as_of=datetime.date(2026, 7, 31), sync=True)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("channels:lifecycle-funnel"))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="funnel-stages"' in body and "funnel-conversion-data" in body
    assert f"<tr><td>#{first.pk} · " in body and f"<tr><td>#{second.pk} · " in body
    assert "Prospect → Customer" in body and "100.0%" in body  # the one prospect became a customer
    client.force_login(rm_a)
    assert client.get(reverse("channels:lifecycle-funnel")).status_code == 403
    client.force_login(bank_admin)
    assert client.get(reverse("channels:lifecycle-funnel"), {"branch": branch_b.pk}).context["branch"] == branch_b
