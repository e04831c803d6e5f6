"""The 360° page's header and panels from the shared cache (crm_bank.ui.fragments): a repeat view renders none of
them and shows the same page; another viewer's masking level, any change to what a panel shows, and
another language each get their own rendering, whichever view came first."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from channels.services.interactions import interaction_record
from customers.models import Account, Customer, RMAssignment
from customers.services import customer_rm_handover, customer_update
from tests.customers.factories import account_for, transactions_for

pytestmark = pytest.mark.django_db

User = get_user_model()

PANEL_TEMPLATES = {"customers/_customer_header.html", "customers/_holdings_panel.html", "channels/_timeline_panel.html",
                   "customers/_transactions_panel.html", "customers/_profile_column.html"}


@pytest.fixture
def account(customer_a) -> Account:
    account = account_for(customer_a)
    transactions_for(account, 25)
    return account


def _view(client, customer: Customer, **params):
    response = client.get(reverse("customers:customer-detail", args=[customer.pk]), params)
    assert response.status_code == 200
    return response


def _page(client, customer: Customer, **params) -> str:
    return _view(client, customer, **params).content.decode()


def _rendered(response) -> set[str]:
    """The templates the request rendered (the test client records them)."""
    return {template.name for template in response.templates}


def _content(page: str) -> str:
    """The page below the navigation bar: the part the customer's data fills (the bar carries this
    request's CSRF token)."""
    return page[page.index("<main"):]


def _panel(page: str, panel_id: str) -> str:
    start = page.index(f'id="{panel_id}"')
    return page[start: page.index("</section>", start)]


def test_repeat_view_renders_no_panel_and_shows_the_same_page(client, rm_a, customer_a, account):
    client.force_login(rm_a)
    response = _view(client, customer_a)
    first = response.content.decode()
    assert _rendered(response) >= PANEL_TEMPLATES
    response = _view(client, customer_a)
    again = response.content.decode()
    assert not PANEL_TEMPLATES & _rendered(response)
    assert _content(again) == _content(first)
    assert account.number in again and "12,345.67" in again and again.count("<tr data-txn>") == 20


@pytest.mark.parametrize("full_access_first", [True, False], ids=["full-first", "masked-first"])
def test_another_branchs_rm_never_gets_the_full_rendering(client, rm_a, rm_b, customer_a, account, full_access_first):
    viewers = [rm_a, rm_b] if full_access_first else [rm_b, rm_a]
    pages = {}
    for viewer in viewers:
        client.force_login(viewer)
        pages[viewer] = _page(client, customer_a)
    masked, full = pages[rm_b], pages[rm_a]
    assert account.number not in masked and "12,345.67" not in masked
    assert 'id="transaction-table"' not in masked and "+420601123456" not in masked
    assert account.number in full and "12,345.67" in full and 'id="transaction-table"' in full
    assert "+420601123456" in full
    assert 'id="masked-notice"' in masked and 'id="masked-notice"' not in full


def test_a_change_to_what_a_panel_shows_is_on_the_next_view(client, rm_a, rm_a2, customer_a, account):
    client.force_login(rm_a)
    before = _page(client, customer_a)
    assert "12,345.67" in _panel(before, "holdings-panel")
    # Writes that bypass the model's save (a bulk update, as the core-banking feed does) as well.
    Account.objects.filter(pk=account.pk).update(balance=Decimal("99.50"))
    transactions_for(account, 1)
    customer_update(customer=customer_a, actor=rm_a, phone="+420 602 000 111")
    interaction_record(customer=customer_a, actor=rm_a, channel="branch", kind="visit", direction="inbound",
                       occurred_at=timezone.now() - dt.timedelta(minutes=5), summary="Asked about a mortgage")
    customer_rm_handover(customer=Customer.objects.get(pk=customer_a.pk), new_rm=rm_a2, actor=rm_a,
                         reason=RMAssignment.Reason.REBALANCING)
    after = _page(client, customer_a)
    assert "99.50" in _panel(after, "holdings-panel") and "12,345.67" not in after
    assert "Asked about a mortgage" in _panel(after, "timeline-panel")
    assert "+420602000111" in _panel(after, "identity-panel")
    assert rm_a2.get_full_name() in _panel(after, "rm-history-panel")
    newest = _panel(after, "transactions-panel")
    assert newest.count("<tr data-txn>") == 20 and newest != _panel(before, "transactions-panel")


def test_each_language_gets_its_own_rendering(client, rm_a, customer_a, account):
    client.force_login(rm_a)
    english = _panel(_page(client, customer_a), "holdings-panel")
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    chinese = _panel(_page(client, customer_a), "holdings-panel")
    assert "Holdings" in english and "Holdings" not in chinese
    assert re.search(r"[\u4e00-\u9fff]", chinese)


def test_each_page_of_transactions_is_kept_apart(client, rm_a, customer_a, account):
    """The 360° page's own paging links (`?page=`, without htmx) keep one rendering per page."""
    client.force_login(rm_a)
    second = _panel(_page(client, customer_a, page=2), "transactions-panel")
    first = _panel(_page(client, customer_a), "transactions-panel")
    response = _view(client, customer_a, page=2)
    assert _panel(response.content.decode(), "transactions-panel") == second
    assert "customers/_transactions_panel.html" not in _rendered(response)
    assert "Page 2" in second and second.count("<tr data-txn>") == 5
    assert "Page 1" in first and first.count("<tr data-txn>") == 20


def test_the_rm_signing_in_keeps_their_customers_renderings(client, rm_a, customer_a, account):
    """The RM is loaded with the customer, without their last sign-in and password hash."""
    client.force_login(rm_a)
    _page(client, customer_a)
    signed_in_before = User.objects.get(pk=rm_a.pk).last_login
    rm_a.set_password("changed-secret-2026")
    rm_a.save(update_fields=["password"])
    client.force_login(rm_a)  # a new sign-in: last_login moves on
    assert User.objects.get(pk=rm_a.pk).last_login != signed_in_before
    assert not PANEL_TEMPLATES & _rendered(_view(client, customer_a))
    rm_a.first_name = "Renamed"
    rm_a.save(update_fields=["first_name"])
    response = _view(client, customer_a)
    assert "customers/_customer_header.html" in _rendered(response) and "Renamed" in response.content.decode()
