"""The 360° page's panels: field changes of every field, masking by the one map, household and RM
history, the transactions panel, in both viewers' eyes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils.text import capfirst

from crm_bank.audit.models import AuditEvent
from customers.access import CustomerAccess
from customers.masking import MASKING_RULES, masked_value
from customers.models import Customer, Household, RMAssignment
from customers.services import customer_rm_handover, customer_update
from tests.customers.factories import CustomerFactory, account_for, transactions_for
from tests.org.factories import BranchFactory

pytestmark = pytest.mark.django_db


def _detail(customer: Customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


def _changes(client, customer: Customer) -> str:
    """The field-changes panel as the 360° page loads it (htmx, on demand)."""
    response = client.get(reverse("customers:customer-field-changes", args=[customer.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return _panel(response.content.decode(), "history-panel")


def _panel(page: str, panel_id: str) -> str:
    """The HTML of one panel of the page, so an assertion cannot pass on text shown elsewhere."""
    start = page.index(f'id="{panel_id}"')
    return page[start: page.index("</section>", start)]


# Every field the services may change, with a new value (the customer starts as customer_a).
EDITS = [
    ("first_name", "Janina"), ("last_name", "Novotna"), ("legal_name", "Novak s.r.o."),
    ("national_id", "7103192756"), ("birth_date", dt.date(1980, 6, 2)), ("gender", "M"),
    ("occupation", "management"), ("marital_status", "married"), ("education", "tertiary"),
    ("phone", "+420 777 111 222"), ("email", "jana@example.org"), ("address_line", "Dlouha 5"),
    ("city", "Olomouc"), ("postal_code", "77900"), ("country", "CZ"), ("lifecycle_stage", "loyal"),
    ("customer_since", dt.date(2001, 1, 1)), ("preferred_channel", "call_centre"),
    ("preferred_contact_time", "evening"), ("preferred_language", "zh-hans"), ("interests", ["travel", "health"]),
    ("marketing_consent", True), ("marketing_consent_source", "web"), ("do_not_contact", True),
    ("kyc_review_due", dt.date(2030, 1, 1)), ("household_role", "head"),
]


@pytest.mark.parametrize(("field", "value"), EDITS, ids=[e[0] for e in EDITS])
def test_field_change_of_every_field_keeps_the_page_working_for_full_and_masked_viewers(
    client, rm_a, rm_b, customer_a, field, value
):
    customer_update(customer=customer_a, actor=rm_a, **{field: value})
    label = str(capfirst(Customer._meta.get_field(field).verbose_name))
    for viewer in (rm_a, rm_b):
        client.force_login(viewer)
        assert client.get(_detail(customer_a)).status_code == 200, (field, viewer)
        history = _changes(client, customer_a)
        assert label in history and "rm_a" in history


MASKED_EDITS = [(field, value) for field, value in EDITS if field in MASKING_RULES]


@pytest.mark.parametrize(("field", "value"), MASKED_EDITS, ids=[e[0] for e in MASKED_EDITS])
def test_field_change_of_a_masked_field_shows_no_raw_value_to_another_branch(
    client, rm_a, rm_b, customer_a, field, value
):
    customer_a.customer_since = dt.date(1999, 9, 9)
    customer_a.postal_code = "11000"
    customer_a.save(update_fields=["customer_since", "postal_code"])
    old = getattr(customer_a, field)
    customer_update(customer=customer_a, actor=rm_a, **{field: value})
    new = getattr(Customer.objects.get(pk=customer_a.pk), field)
    shown = {value_text for value_text in (str(old), str(new))}
    if isinstance(old, dt.date):
        shown = {old.strftime("%m/%d/%Y"), new.strftime("%m/%d/%Y")}
    client.force_login(rm_b)
    history = _changes(client, customer_a)
    assert not any(text in history for text in shown), (field, shown)
    assert "🔒" in history
    client.force_login(rm_a)
    history = _changes(client, customer_a)
    assert all(text in history for text in shown), (field, shown)


def test_customer_since_and_rm_periods_show_only_years_to_another_branch(client, rm_a, rm_b, customer_a):
    customer_a.customer_since = dt.date(1993, 2, 17)
    customer_a.save(update_fields=["customer_since"])
    RMAssignment.objects.create(customer=customer_a, rm=rm_a, started_at=dt.datetime(1993, 2, 17, 9, tzinfo=dt.UTC),
                                reason=RMAssignment.Reason.ONBOARDING)
    account_for(customer_a, opened_on=None)
    client.force_login(rm_b)
    page = client.get(_detail(customer_a)).content.decode()
    rm_panel, holdings = _panel(page, "rm-history-panel"), _panel(page, "holdings-panel")
    assert "Customer since 1993" in page and "02/17/1993" not in page
    assert "1993" in rm_panel and "02/17/1993" not in rm_panel
    assert "None" not in holdings
    client.force_login(rm_a)
    assert "02/17/1993" in _panel(client.get(_detail(customer_a)).content.decode(), "rm-history-panel")


def test_field_change_of_national_id_is_masked_for_another_branch_and_full_for_the_rm(client, rm_a, rm_b, customer_a):
    customer_update(customer=customer_a, actor=rm_a, national_id="7103192756")
    client.force_login(rm_a)
    history = _changes(client, customer_a)
    assert "7103192745" in history and "7103192756" in history
    client.force_login(rm_b)
    history = _changes(client, customer_a)
    assert "7103192745" not in history and "7103192756" not in history
    assert "********45" in history and "********56" in history


def test_field_change_of_birth_date_shows_only_years_to_another_branch(client, rm_a, rm_b, customer_a):
    customer_update(customer=customer_a, actor=rm_a, birth_date=dt.date(1980, 6, 2))
    client.force_login(rm_b)
    history = _changes(client, customer_a)
    assert "1971" in history and "1980" in history
    assert "03/19/1971" not in history and "06/02/1980" not in history
    client.force_login(rm_a)
    history = _changes(client, customer_a)
    assert "03/19/1971" in history and "06/02/1980" in history


def test_field_changes_name_the_branch_rm_and_household_not_their_ids(client, rm_a, rm_a2, customer_a):
    new_branch = BranchFactory(code="C03", name="Gamma")
    household = Household.objects.create(name="Novak family")
    customer_update(customer=customer_a, actor=rm_a, home_branch=new_branch, household=household)
    customer_rm_handover(customer=customer_a, new_rm=rm_a2, actor=rm_a, reason=RMAssignment.Reason.HANDOVER)
    client.force_login(rm_a2)
    history = _changes(client, customer_a)
    assert "Gamma" in history and "Alpha" in history and "Novak family" in history
    assert rm_a2.get_full_name() in history and rm_a.get_full_name() in history
    assert not re.search(rf"→ {new_branch.pk}\b", history)


def test_holdings_mask_account_numbers_and_opened_dates_for_another_branch(client, rm_a, rm_b, customer_a):
    account = account_for(customer_a, opened_on=dt.date(2015, 4, 7))
    client.force_login(rm_b)
    holdings = _panel(client.get(_detail(customer_a)).content.decode(), "holdings-panel")
    assert account.number not in holdings and account.number[-4:] in holdings
    assert "04/07/2015" not in holdings and "2015" in holdings
    client.force_login(rm_a)
    holdings = _panel(client.get(_detail(customer_a)).content.decode(), "holdings-panel")
    assert account.number in holdings and "04/07/2015" in holdings


def test_transactions_panel_is_refused_to_a_masked_viewer_even_by_htmx(client, rm_b, customer_a):
    transactions_for(account_for(customer_a), 5)
    client.force_login(rm_b)
    panel = client.get(reverse("customers:customer-transactions", args=[customer_a.pk]), HTTP_HX_REQUEST="true")
    html = panel.content.decode()
    assert panel.status_code == 200 and "<tr data-txn>" not in html and "🔒" in html
    assert AuditEvent.objects.filter(actor=rm_b, outcome=AuditEvent.Outcome.MASKED,
                                     detail__purpose="transactions").count() == 1


def test_household_panel_lists_the_other_members_with_their_roles(client, rm_a, customer_a):
    household = Household.objects.create(name="Novak family")
    customer_update(customer=customer_a, actor=rm_a, household=household, household_role="spouse")
    partner = CustomerFactory(home_branch=customer_a.home_branch, household=household, household_role="head",
                              first_name="Petr", last_name="Novak")
    client.force_login(rm_a)
    panel = _panel(client.get(_detail(customer_a)).content.decode(), "household-panel")
    assert "Novak family" in panel and "Spouse / partner" in panel
    assert f'href="{_detail(partner)}"' in panel and "Petr Novak" in panel and "Head" in panel
    assert "Jana Novakova" not in panel


def test_rm_history_panel_lists_each_rm_newest_first_with_the_reason(client, rm_a, rm_a2, customer_a):
    RMAssignment.objects.create(customer=customer_a, rm=rm_a, started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                                reason=RMAssignment.Reason.ONBOARDING)
    customer_rm_handover(customer=customer_a, new_rm=rm_a2, actor=rm_a, reason=RMAssignment.Reason.STAFF_LEFT)
    client.force_login(rm_a2)
    panel = _panel(client.get(_detail(customer_a)).content.decode(), "rm-history-panel")
    assert panel.index(rm_a2.get_full_name()) < panel.index(rm_a.get_full_name())
    assert "RM left the branch" in panel and "First assignment" in panel and "today" in panel


def test_raw_codes_read_as_translated_labels(client, rm_a, customer_a):
    customer_update(customer=customer_a, actor=rm_a, occupation="management", marital_status="married",
                    education="tertiary", interests=["real_estate", "health"])
    client.force_login(rm_a)
    page = client.get(_detail(customer_a)).content.decode()
    identity, preferences = _panel(page, "identity-panel"), _panel(page, "preferences-panel")
    assert "Management" in identity and "Married" in identity and "Tertiary" in identity
    assert "Real estate, Health" in preferences and "real_estate" not in preferences
    client.post(reverse("set_language"), {"language": "zh-hans", "next": _detail(customer_a)})
    page = client.get(_detail(customer_a)).content.decode()
    assert "management" not in _panel(page, "identity-panel")
    assert "real_estate" not in _panel(page, "preferences-panel")


def test_chinese_names_are_written_family_name_first_without_a_space(client, rm_a, branch_a):
    customer = CustomerFactory(first_name="洋", last_name="韩", home_branch=branch_a, primary_rm=rm_a)
    client.force_login(rm_a)
    page = client.get(_detail(customer)).content.decode()
    assert "韩洋" in page and "洋 韩" not in page
    assert customer.display_name == "韩洋"


def test_masking_rules_drive_the_access_helper(customer_a):
    masked = CustomerAccess(customer=customer_a, full_access=False, reason="")
    full = CustomerAccess(customer=customer_a, full_access=True, reason="admin")
    for field in ("national_id", "phone", "email", "address_line", "birth_date"):
        value = getattr(customer_a, field)
        assert field in MASKING_RULES
        assert getattr(masked, field) == masked_value(field, value) != value
        assert getattr(full, field) == value
    assert masked.city == customer_a.city and masked.display_name == "Jana Novakova"


def test_field_changes_panel_is_audited_and_works_without_htmx(client, rm_b, customer_a):
    client.force_login(rm_b)
    page = client.get(_detail(customer_a)).content.decode()
    assert 'id="show-field-changes"' in page and "data-change" not in page
    response = client.get(reverse("customers:customer-field-changes", args=[customer_a.pk]))
    assert response.status_code == 200 and "<!doctype html>" in response.content.decode().lower()
    assert AuditEvent.objects.filter(actor=rm_b, outcome=AuditEvent.Outcome.MASKED,
                                     detail__purpose="field changes").count() == 1
