"""Look-ups that find any branch's customer by an identifier, or by name and birth date, are counted
per member of staff: each answer is harmless alone, but a few hundred recover a masked national ID
(the birth date tried day by day on the ownership check, then the ID's unknown digits in the search
box). Past the allowance the answer is 429 with Retry-After, on the audit trail."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.security.limits import RateLimited, allowance_take

pytestmark = pytest.mark.django_db


def test_an_allowance_is_spent_per_person_and_renewed_with_the_window():
    with mock.patch("crm_bank.security.limits.time.time", return_value=1_000_000.0):
        for _ in range(3):
            allowance_take(scope="test", ident=1, limit=3, window_seconds=600)
        with pytest.raises(RateLimited) as refused:
            allowance_take(scope="test", ident=1, limit=3, window_seconds=600)
        allowance_take(scope="test", ident=2, limit=3, window_seconds=600)  # someone else's is their own
    assert refused.value.retry_after == 600 - 1_000_000 % 600
    with mock.patch("crm_bank.security.limits.time.time", return_value=1_000_000.0 + 600):
        allowance_take(scope="test", ident=1, limit=3, window_seconds=600)  # the next window


def test_a_failing_cache_allows_the_look_up_and_says_so(caplog):
    with mock.patch.object(cache, "incr", side_effect=ConnectionError("redis down")):
        for _ in range(5):
            allowance_take(scope="test", ident=1, limit=1, window_seconds=600)
    assert "not counted: the cache failed" in caplog.text


def test_identifier_searches_past_the_allowance_get_429_and_are_audited(client, settings, rm_b, customer_a):
    settings.CRM_IDENTIFIER_LOOKUPS = 3
    client.force_login(rm_b)
    for _ in range(5):  # names are not identifiers: not counted
        assert client.get(reverse("customers:customer-list"), {"q": "novakova"}).status_code == 200
    for _ in range(3):
        assert client.get(reverse("customers:customer-list"), {"q": "7103192745"}).status_code == 200
    refused = client.get(reverse("customers:customer-list"), {"q": "7103192799"})
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 600
    body = refused.content.decode()
    assert "Too many look-ups by identifier" in body and 'id="global-search"' in body  # the whole page
    assert customer_a.cif not in body
    assert AuditEvent.objects.filter(object_type="customer_search").count() == 3
    denied = AuditEvent.objects.get(outcome=AuditEvent.Outcome.DENIED)
    assert (denied.actor, denied.detail["status"]) == (rm_b, 429)
    # Another member of staff is not held up.
    client.force_login(customer_a.primary_rm)
    assert client.get(reverse("customers:customer-list"), {"q": "7103192745"}).status_code == 200


def test_an_identifier_search_names_the_customers_it_showed_never_the_value(client, rm_b, customer_a):
    client.force_login(rm_b)
    client.get(reverse("customers:customer-list"), {"q": "7103192745"})
    event = AuditEvent.objects.get(object_type="customer_search")
    assert event.detail["found"] == [customer_a.pk]
    assert "7103192745" not in str(event.detail)


def test_a_year_of_birth_dates_cannot_be_swept_within_the_allowance(client, rm_b, customer_a):
    """The ownership check (htmx) stops answering at the allowance, well before a year of dates; the
    notice replaces the warning it would have shown, and no check runs past it."""
    client.force_login(rm_b)
    url = reverse("channels:ownership-check")
    day, answers = dt.date(1971, 1, 1), []
    while day.year == 1971:
        response = client.get(url, {"first_name": "Jana", "last_name": "Novakova", "birth_date": day.isoformat()},
                              HTTP_HX_REQUEST="true")
        answers.append(response.status_code)
        if response.status_code == 429:
            break
        day += dt.timedelta(days=1)
    assert answers == [200] * 40 + [429]  # the default: 40 in ten minutes; her birthday is day 78
    assert "Too many look-ups by identifier" in response.content.decode()
    assert "<html" not in response.content.decode()  # the notice alone, for htmx to put in place
    assert AuditEvent.objects.filter(object_type="ownership_check").count() == 40


def test_a_prospect_past_the_allowance_is_not_created_and_the_form_keeps_what_was_typed(
        client, settings, rm_b, branch_b, customer_a):
    from customers.models import Customer

    settings.CRM_IDENTIFIER_LOOKUPS = 1
    client.force_login(rm_b)
    data = {"kind": "individual", "first_name": "Petra", "last_name": "Svobodova", "national_id_type": "CZ_RC",
            "national_id": "710319/2745", "home_branch": branch_b.pk}
    assert client.get(reverse("customers:customer-list"), {"q": "7103192745"}).status_code == 200  # the one
    refused = client.post(reverse("channels:prospect-new"), {**data, "confirm": "1"})
    assert refused.status_code == 429 and refused["Retry-After"]
    body = refused.content.decode()
    assert "Too many look-ups by identifier" in body and 'value="Svobodova"' in body
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer_a.pk]
    assert AuditEvent.objects.filter(outcome=AuditEvent.Outcome.DENIED, detail__status=429).count() == 1
