"""Customer pages: content per role, search and filters, and query budgets."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from customers.models import AccountHolder, Customer, Household
from customers.services import customer_update
from tests.customers.factories import CustomerFactory, account_for, transactions_for

pytestmark = pytest.mark.django_db

QUERY_BUDGET_360 = 12
QUERY_BUDGET_LIST = 10
QUERY_BUDGET_FILTERS = 4


def _detail(customer: Customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


def test_pages_require_login(client, customer_a):
    response = client.get(_detail(customer_a))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_customer_detail_shows_everything_to_the_customers_rm(client, rm_a, customer_a):
    account = account_for(customer_a)
    transactions_for(account, 3)
    client.force_login(rm_a)
    page = client.get(_detail(customer_a)).content.decode()
    assert "Jana Novakova" in page
    assert "7103192745" in page and "+420601123456" in page and "Vodickova 12" in page
    assert account.number in page and "12,345.67" in page
    assert 'id="transaction-table"' in page
    assert 'data-masked="true"' not in page


def test_customer_detail_masks_sensitive_fields_for_another_branch(client, rm_b, customer_a):
    account_for(customer_a)
    client.force_login(rm_b)
    page = client.get(_detail(customer_a)).content.decode()
    # Name, branch and RM stay visible bank-wide, so nobody treats the customer as new.
    assert "Jana Novakova" in page and customer_a.primary_rm.get_full_name() in page
    assert customer_a.home_branch.name in page
    assert "7103192745" not in page and "********45" in page
    assert "+420601123456" not in page and "Vodickova" not in page
    assert "12,345.67" not in page and 'id="transaction-table"' not in page
    assert 'id="masked-notice"' in page
    assert AuditEvent.objects.filter(actor=rm_b, outcome=AuditEvent.Outcome.MASKED).count() == 1


def test_customer_detail_forbidden_without_staff_role(client, no_role_user, customer_a):
    client.force_login(no_role_user)
    assert client.get(_detail(customer_a)).status_code == 403
    assert AuditEvent.objects.filter(actor=no_role_user, outcome=AuditEvent.Outcome.DENIED).exists()


def test_customer_detail_unknown_customer_is_404(client, rm_a):
    client.force_login(rm_a)
    assert client.get(reverse("customers:customer-detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("history_length", [5, 5000])
def test_customer_detail_query_budget_whatever_the_history(
    client, django_assert_max_num_queries, rm_a, rm_a2, customer_a, history_length
):
    household = Household.objects.create(name="Novak family")
    customer_a.household = household
    customer_a.save(update_fields=["household"])
    CustomerFactory(home_branch=customer_a.home_branch, household=household)
    for _ in range(3):
        transactions_for(account_for(customer_a), history_length // 3 + 1)
    customer_update(customer=customer_a, actor=rm_a, phone="+420 602 000 111")
    client.force_login(rm_a)
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        response = client.get(_detail(customer_a))
    assert response.status_code == 200
    rows_shown = response.content.decode().count("<tr data-txn>")
    assert rows_shown == min(3 * (history_length // 3 + 1), 20)
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        older = client.get(reverse("customers:customer-transactions", args=[customer_a.pk]) + "?page=2")
    expected = "Page 2" if history_length > 20 else "No older transactions"
    assert older.status_code == 200 and expected in older.content.decode()
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        changes = client.get(reverse("customers:customer-field-changes", args=[customer_a.pk]), HTTP_HX_REQUEST="true")
    assert changes.status_code == 200 and "data-change" in changes.content.decode()


def test_customer_detail_shows_field_changes_with_who_changed(client, rm_a, customer_a):
    old_city = customer_a.city
    customer_update(customer=customer_a, actor=rm_a, city="Brno")
    client.force_login(rm_a)
    page = client.get(reverse("customers:customer-field-changes", args=[customer_a.pk])).content.decode()
    history = page[page.index('id="history-panel"'):]
    change = history[history.index("<li class=\"list-group-item\" data-change>"):].split("</li>", 1)[0]
    assert "rm_a" in change and "City" in change and f"{old_city or '—'} → Brno" in change


def test_customer_list_search_finds_by_name_id_phone_account(client, django_assert_max_num_queries, rm_b, customer_a):
    account = account_for(customer_a)
    CustomerFactory.create_batch(5, home_branch=customer_a.home_branch)
    client.force_login(rm_b)
    for query in ["jana", "Novakova Jana", "novakova", customer_a.cif, "7103192745", "+420 601 123 456",
                  account.number]:
        with django_assert_max_num_queries(QUERY_BUDGET_LIST):
            page = client.get(reverse("customers:customer-list"), {"q": query}).content.decode()
        assert "Jana Novakova" in page, query
    page = client.get(reverse("customers:customer-list"), {"q": "zzzz-nobody"}).content.decode()
    assert "Jana Novakova" not in page and "No customer matches" in page


def test_customer_list_search_finds_chinese_name_by_pinyin(client, rm_b, branch_a):
    CustomerFactory(first_name="伟", last_name="李", home_branch=branch_a)
    client.force_login(rm_b)
    for query in ["li wei", "李伟", "wei li"]:
        assert "李伟" in client.get(reverse("customers:customer-list"), {"q": query}).content.decode(), query


def test_customer_list_filters_by_branch_rm_and_stage(client, rm_a, rm_b, branch_a, branch_b, customer_a):
    other = CustomerFactory(home_branch=branch_b, last_name="Elsewhere", lifecycle_stage=Customer.Lifecycle.DORMANT)
    client.force_login(rm_b)
    url = reverse("customers:customer-list")
    by_branch = client.get(url, {"home_branch": branch_a.pk}).content.decode()
    assert "Novakova" in by_branch and "Elsewhere" not in by_branch
    by_rm = client.get(url, {"primary_rm": rm_a.pk}).content.decode()
    assert "Novakova" in by_rm and "Elsewhere" not in by_rm
    dormant = client.get(url, {"lifecycle_stage": "dormant"}).content.decode()
    assert other.last_name in dormant and "Novakova" not in dormant
    bad = client.get(url, {"home_branch": "not-a-number", "per_page": "7"})
    assert bad.status_code == 200


def test_customer_list_query_budget_with_many_customers(client, django_assert_max_num_queries, rm_a, branch_a):
    CustomerFactory.create_batch(120, home_branch=branch_a, primary_rm=rm_a)
    client.force_login(rm_a)
    with django_assert_max_num_queries(QUERY_BUDGET_LIST):
        response = client.get(reverse("customers:customer-list"), {"per_page": 100, "sort": "-name"})
    assert response.status_code == 200
    assert "120 customers" in response.content.decode()


def test_my_book_lists_own_customers_and_due_kyc_reviews(client, django_assert_max_num_queries, rm_a, customer_a):
    import datetime as dt

    from django.utils import timezone

    customer_a.kyc_review_due = timezone.localdate() + dt.timedelta(days=5)
    customer_a.save(update_fields=["kyc_review_due"])
    CustomerFactory(primary_rm=None, last_name="NotMine")
    client.force_login(rm_a)
    with django_assert_max_num_queries(QUERY_BUDGET_LIST):
        page = client.get(reverse("customers:my-book")).content.decode()
    assert "Novakova" in page and "NotMine" not in page
    assert 'id="kyc-due"' in page and page.count("Jana Novakova") >= 2


def test_my_book_kyc_panel_reads_its_customers_in_one_query(client, rm_a, customer_a):
    """The panel reads only KYC_DUE_COLUMNS: a column it shows beyond them would be one query per
    customer, and three due customers would then cost more queries than one."""
    import datetime as dt

    from django.utils import timezone

    due = timezone.localdate() + dt.timedelta(days=5)
    customer_a.kyc_review_due = due
    customer_a.save(update_fields=["kyc_review_due"])
    client.force_login(rm_a)
    with CaptureQueriesContext(connection) as one_due:
        client.get(reverse("customers:my-book"))
    company = CustomerFactory(primary_rm=rm_a, home_branch=customer_a.home_branch, kind="corporate",
                              legal_name="Kyc Holdings a.s.", kyc_review_due=due - dt.timedelta(days=40))
    CustomerFactory(primary_rm=rm_a, home_branch=customer_a.home_branch, kyc_review_due=due)
    with CaptureQueriesContext(connection) as three_due:
        page = client.get(reverse("customers:my-book")).content.decode()
    assert len(three_due.captured_queries) == len(one_due.captured_queries)
    panel = page[page.index('id="kyc-due"'):]
    assert "Kyc Holdings a.s." in panel and company.get_absolute_url() in panel and "text-bg-danger" in panel


def test_home_sends_each_role_to_its_landing_page(client, rm_a, supervisor_a, analyst_b):
    for user, target in [(rm_a, "customers:my-book"), (supervisor_a, "customers:branch-dashboard"),
                         (analyst_b, "customers:customer-list")]:
        client.force_login(user)
        assert client.get("/")["Location"] == reverse(target)


def test_branch_dashboard_for_supervisors_only(client, django_assert_max_num_queries, rm_a, supervisor_a, customer_a):
    account_for(customer_a)
    client.force_login(rm_a)
    assert client.get(reverse("customers:branch-dashboard")).status_code == 403
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(QUERY_BUDGET_LIST):
        page = client.get(reverse("customers:branch-dashboard")).content.decode()
    assert re.search(r'id="branch-customers">\s*1\s*<', page) and "12,345.67" in page


def test_holdings_show_authorised_user_role(client, rm_a, customer_a):
    account_for(customer_a, role=AccountHolder.Role.AUTHORISED)
    client.force_login(rm_a)
    assert "Authorised user" in client.get(_detail(customer_a)).content.decode()


def _names_in_table(html: str) -> list[str]:
    import re

    body = html.split('id="customer-table"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td><a href="/customers/\d+/">([^<]+)</a></td>', body)


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_customer_list_search_pages_follow_name_order(client, django_assert_max_num_queries, rm_b, branch_a, sort):
    """Search results come in name order across pages, first-name and surname matches merged."""
    for i in range(30):
        CustomerFactory(first_name=f"Yan{i:02d}", last_name="Ortiz", home_branch=branch_a)
        CustomerFactory(first_name=f"Bo{i:02d}", last_name="Yanez", home_branch=branch_a)
    CustomerFactory(first_name="Zed", last_name="Other", home_branch=branch_a)
    expected = sorted(Customer.objects.filter(Q(first_name__startswith="Yan") | Q(last_name="Yanez")),
                      key=lambda c: (c.name_key, c.pk), reverse=sort == "-name")
    client.force_login(rm_b)
    url = reverse("customers:customer-list")
    shown = []
    for page in (1, 2, 3):
        with django_assert_max_num_queries(QUERY_BUDGET_LIST):
            html = client.get(url, {"q": "yan", "sort": sort, "page": page}).content.decode()
        shown += _names_in_table(html)
    assert "60 customers" in html
    assert shown == [c.display_name for c in expected]


def test_customer_list_frame_links_sort_and_page_with_the_search_kept(client, rm_b, branch_a):
    """Header links sort (the current order marked and reversed), pager links keep the filters, and the
    cells read as the reader's language has them."""
    for i in range(60):
        CustomerFactory(first_name=f"Yan{i:02d}", last_name="Ortiz", home_branch=branch_a,
                        lifecycle_stage=Customer.Lifecycle.DORMANT)
    client.force_login(rm_b)
    html = client.get(reverse("customers:customer-list"), {"q": "yan", "page": 2}).content.decode()
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert '<th class="asc orderable" scope="col"><a href="?q=yan&amp;page=2&amp;sort=-name">Name</a></th>' in head
    assert '<a href="?q=yan&amp;page=2&amp;sort=cif">Customer number</a>' in head
    assert '<th scope="col">Kind</th>' in head  # not sortable: no link
    pager = html.split('<ul class="pagination', 1)[1].split("</ul>", 1)[0]
    assert 'class="previous page-item"><a href="?q=yan&amp;page=1"' in pager
    assert 'class="next page-item"><a href="?q=yan&amp;page=3"' in pager
    assert re.search(r'<li class="page-item active"><a class="page-link" href="\?q=yan&amp;page=2">2</a>', pager)
    assert '<span class="badge text-bg-warning">Dormant</span>' in html
    chinese = client.get(reverse("customers:customer-list"), {"q": "yan"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    chinese = chinese.content.decode()
    assert "下一页" in chinese and "休眠" in chinese


def test_customer_list_without_matches_says_what_to_try(client, rm_b, customer_a):
    client.force_login(rm_b)
    html = client.get(reverse("customers:customer-list"), {"q": "zzzzqx"}).content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert '<td colspan="8">No customer matches.' in body and 'class="pagination' not in html


def test_customer_list_search_with_a_filter_keeps_every_match(client, rm_b, branch_a, branch_b):
    for i in range(30):
        CustomerFactory(first_name=f"Yan{i:02d}", last_name="Ortiz", home_branch=branch_a)
    CustomerFactory(first_name="Yanzz", last_name="Late", home_branch=branch_b)
    client.force_login(rm_b)
    html = client.get(reverse("customers:customer-list"), {"q": "yan", "home_branch": branch_b.pk}).content.decode()
    assert _names_in_table(html) == ["Yanzz Late"]


def test_customer_list_search_of_punctuation_matches_nobody(client, rm_b, customer_a):
    CustomerFactory(home_branch=customer_a.home_branch, national_id="")
    client.force_login(rm_b)
    html = client.get(reverse("customers:customer-list"), {"q": "---"}).content.decode()
    assert _names_in_table(html) == [] and "No customer matches" in html


@pytest.mark.parametrize("query", ["page=²", "page=-1", "page=99999999999999999999999", "page=abc"])
def test_customer_detail_odd_page_numbers_fall_back_to_a_page(client, rm_a, customer_a, query):
    client.force_login(rm_a)
    assert client.get(f"{_detail(customer_a)}?{query}").status_code == 200


@pytest.mark.parametrize("query", ["per_page=²", "page=²", "page=99999999999999999999", "sort=bogus"])
def test_customer_list_odd_parameters_still_render(client, rm_a, customer_a, query):
    client.force_login(rm_a)
    assert client.get(f"{reverse('customers:customer-list')}?{query}").status_code == 200


def test_customer_detail_huge_id_is_404_without_audit(client, no_role_user):
    client.force_login(no_role_user)
    assert client.get("/customers/" + "9" * 41 + "/").status_code == 404
    assert not AuditEvent.objects.filter(object_type="customer").exists()


@pytest.mark.parametrize("url_name", ["customers:customer-list", "customers:my-book"])
@pytest.mark.parametrize(("per_page", "rows"), [("100000", 25), ("-5", 25), ("0", 25), ("50", 50), ("7", 25)])
def test_lists_clamp_their_page_size(client, rm_a, branch_a, url_name, per_page, rows):
    CustomerFactory.create_batch(60, home_branch=branch_a, primary_rm=rm_a)
    client.force_login(rm_a)
    response = client.get(reverse(url_name), {"per_page": per_page})
    assert response.status_code == 200
    body = response.content.decode().split('id="customer-table"', 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr") - 1 == rows  # the header row aside


def test_identifier_search_is_audited_by_kind_never_by_value(client, rm_b, customer_a):
    client.force_login(rm_b)
    client.get(reverse("customers:customer-list"), {"q": "7103192745"})
    client.get(reverse("customers:customer-list"), {"q": "novakova"})  # a name: nothing to audit
    (event,) = AuditEvent.objects.filter(object_type="customer_search")
    assert event.actor == rm_b and "national_id" in event.detail["identifier_kinds"]
    assert "phone" in event.detail["identifier_kinds"]
    assert "7103192745" not in str(event.detail) and "7103192745" not in event.object_id


def test_a_search_by_an_identifier_of_letters_only_is_audited_too(client, rm_b, customer_a):
    from customers.models import Customer

    Customer.objects.filter(pk=customer_a.pk).update(national_id="ABCDEFGH", national_id_type="PASSPORT")
    client.force_login(rm_b)
    client.get(reverse("customers:customer-list"), {"q": "abcd-efgh"})  # found by the passport, as typed
    client.get(reverse("customers:customer-list"), {"q": "novakova"})  # a name: nothing to audit
    client.get(reverse("customers:customer-list"), {"q": "zzzzzz"})  # no identifier found: nothing to audit

    (event,) = AuditEvent.objects.filter(object_type="customer_search")
    assert event.actor == rm_b and event.detail["identifier_kinds"] == ["national_id"]
    assert "ABCDEFGH" not in str(event.detail).upper()


def test_search_identifiers_stay_out_of_the_server_logs():
    import logging
    from pathlib import Path

    from django.conf import settings

    from crm_bank.security.log_filters import QueryStringScrubber

    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /customers/?q=7103192745&page=2 HTTP/1.1", "200", "5120"), None)
    QueryStringScrubber().filter(record)
    assert "7103192745" not in record.getMessage() and "GET /customers/?… HTTP/1.1" in record.getMessage()
    assert any(isinstance(f, QueryStringScrubber) or f == "scrub_query_strings"
               for f in settings.LOGGING["loggers"]["django.server"].get("filters", []))
    gunicorn_conf = (Path(settings.BASE_DIR) / "gunicorn.conf.py").read_text()
    access_format = gunicorn_conf.split("access_log_format = ", 1)[1].splitlines()[0]
    assert "%(r)s" not in access_format and "%(q)s" not in access_format and "%(f)s" not in access_format


@pytest.mark.parametrize("number", ["TM000001-C", "L-0001234", "C-000987"])
def test_account_numbers_with_letters_and_dashes_are_found(client, rm_b, customer_a, number):
    account_for(customer_a, number=number)
    client.force_login(rm_b)
    for query in (number, number.lower(), f" {number} "):
        page = client.get(reverse("customers:customer-list"), {"q": query}).content.decode()
        assert "Jana Novakova" in page, query


@pytest.mark.parametrize("query", ["jan", "novakova jana", "li", "7103192745", "+420 601 123 456", "TM000001-C",
                                   "nobody", "CIF"])
def test_both_search_paths_find_the_same_customers(rm_b, branch_a, customer_a, query):
    """The list with filters (ORM) and the search alone (index-ordered SQL) must agree."""
    from customers.selectors import customer_list, customer_search, customer_search_in_name_order

    account_for(customer_a, number="TM000001-C")
    CustomerFactory(first_name="Li", last_name="Wei", home_branch=branch_a)
    CustomerFactory(first_name="Jan", last_name="Li", home_branch=branch_a)
    CustomerFactory(first_name="Janek", last_name="Dvorak", home_branch=branch_a, cif="CIF0001")
    orm = set(customer_search(queryset=customer_list(), query=query).values_list("pk", flat=True))
    indexed, count = customer_search_in_name_order(query=query, rows=100, count_cap=10_000)
    assert set(indexed.values_list("pk", flat=True)) == orm and count == len(orm)


def test_customer_list_caps_its_count_at_ten_thousand(client, rm_a, monkeypatch):
    from crm_bank.ui.paginators import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "count_cap", 5)
    CustomerFactory.create_batch(8)
    client.force_login(rm_a)
    page = client.get(reverse("customers:customer-list")).content.decode()
    assert "more than 5" in page.replace("\xa0", " ").lower() or "5+" in page


def test_branch_dashboard_lets_an_admin_switch_branch(client, bank_admin, branch_a, branch_b, customer_a):
    CustomerFactory.create_batch(2, home_branch=branch_b)
    client.force_login(bank_admin)
    page = client.get(reverse("customers:branch-dashboard"), {"branch": branch_b.pk}).content.decode()
    assert re.search(r'id="branch-customers">\s*2\s*<', page) and f'value="{branch_b.pk}" selected' in page
    page = client.get(reverse("customers:branch-dashboard"), {"branch": branch_a.pk}).content.decode()
    assert re.search(r'id="branch-customers">\s*1\s*<', page)


@pytest.mark.parametrize(("user_fixture", "shown", "hidden"), [
    ("rm_a", ["My book", "Campaign calls"], ["Branch dashboard", "Django admin", "Segmentation"]),
    ("supervisor_a", ["Branch dashboard", "Performance", "Complaints"], ["My book", "Django admin"]),
    ("analyst_b", ["Segmentation", "Value (80/20)"], ["My book", "Branch dashboard", "Django admin"]),
    ("bank_admin", ["Django admin", "Branch dashboard"], ["My book"]),
])
def test_navigation_follows_the_role(client, request, user_fixture, shown, hidden):
    client.force_login(request.getfixturevalue(user_fixture))
    page = client.get(reverse("customers:customer-list")).content.decode()
    start = page.index('aria-label="Main navigation"')
    nav = page[start: page.index("</nav>", start)]
    assert all(item in nav for item in shown), shown
    assert not any(f">{item}<" in nav for item in hidden), hidden


def test_rm_filter_lists_display_names_in_order(client, rm_b, branch_a):
    from tests.org.factories import StaffProfileFactory

    for username, first, last in [("rm_z", "Zdenek", "Adam"), ("rm_c", "Alena", "Cerna"), ("rm_y", "Marek", "Bily")]:
        StaffProfileFactory(user__username=username, user__first_name=first, user__last_name=last,
                            branch=branch_a)
    client.force_login(rm_b)
    page = client.get(reverse("customers:customer-list-filters"), HTTP_HX_REQUEST="true").content.decode()
    select = page[page.index('name="primary_rm"'): page.index("</select>", page.index('name="primary_rm"'))]
    labels = re.findall(r"<option value=\"\d+\">([^<]+)</option>", select)
    assert labels == sorted(labels, key=str.lower) and "Alena Cerna" in labels and "rm_c" not in labels


def test_a_quick_search_loads_the_filter_form_only_when_the_panel_opens(client, django_assert_max_num_queries, rm_b,
                                                                           customer_a):
    client.force_login(rm_b)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("customers:customer-list"), {"q": "novakova"}).content.decode()
    panel = html.split('id="customer-filters"', 1)[1].split("</details>", 1)[0]
    assert 'hx-get="/customers/filters/?q=novakova" hx-trigger="toggle once"' in panel
    assert "<form" not in panel and "Jana Novakova" in html
    lists = [q["sql"] for q in queries
             if q["sql"].startswith('SELECT "org_branch"') or '"org_staffprofile"."role" = ' in q["sql"]]
    assert lists == []  # neither the branch list nor the RM list is read
    with django_assert_max_num_queries(QUERY_BUDGET_FILTERS):  # session, user, the branch and RM lists
        form = client.get(reverse("customers:customer-list-filters"), {"q": "novakova", "tier": "B", "per_page": 50},
                          HTTP_HX_REQUEST="true").content.decode()
    assert form.startswith("\n<form") or form.lstrip().startswith("<form")
    assert 'value="novakova"' in form and '<option value="B" selected>' in form and '"50" selected' in form
    assert 'name="primary_rm"' in form and 'name="home_branch"' in form


@pytest.mark.parametrize("query", [
    {"lifecycle_stage": "dormant"}, {"q": "nov", "tier": "A"}, {"home_branch": "999999"},
])
def test_a_filter_beyond_the_search_box_or_an_error_opens_the_panel_with_the_form(client, rm_b, branch_a, query):
    client.force_login(rm_b)
    html = client.get(reverse("customers:customer-list"), query).content.decode()
    panel = html.split('id="customer-filters"', 1)[1].split("</details>", 1)[0]
    assert panel.startswith(" open>") and '<form method="get"' in panel and "hx-get" not in panel
    if "home_branch" in query:
        assert "Select a valid choice" in panel


def test_the_filter_form_outside_htmx_leads_to_the_list(client, rm_b):
    client.force_login(rm_b)
    response = client.get(reverse("customers:customer-list-filters"), {"q": "nov", "kind": "individual"})
    assert response.status_code == 302 and response["Location"] == "/customers/?q=nov&kind=individual"
    assert client.get(reverse("customers:customer-list-filters"))["Location"] == "/customers/"


def test_list_rows_read_as_the_reader_expects(branch_a, rm_a):
    """A company by its legal name, no RM or contact as a dash, the date in the reader's format."""
    import datetime

    from django.utils import translation

    from customers.tables import customer_list_rows

    company = CustomerFactory(kind=Customer.Kind.CORPORATE, legal_name="Acme s.r.o.", home_branch=branch_a,
                              primary_rm=None)
    person = CustomerFactory(first_name="Jana", last_name="Novakova", home_branch=branch_a, primary_rm=rm_a)
    company.completeness, person.completeness = 40, 95  # generated by PostgreSQL; as if read so
    person.last_contact_at = datetime.datetime(2026, 11, 30, 23, 30, tzinfo=datetime.UTC)
    with translation.override("en"):
        first, second = customer_list_rows([company, person])
    assert (first.name, first.kind, first.rm, first.last_contact, first.incomplete) == (
        "Acme s.r.o.", "Corporate", "—", "—", True)
    assert first.url == f"/customers/{company.pk}/" and first.branch == str(branch_a)
    assert (second.name, second.rm, second.incomplete) == ("Jana Novakova", rm_a.get_full_name(), False)
    with translation.override("zh-hans"):
        (chinese,) = customer_list_rows([person])
    assert chinese.kind == "个人" and chinese.last_contact != second.last_contact


def test_list_querysets_load_every_column_their_rows_show_in_one_query(branch_a, rm_a, django_assert_num_queries):
    """The lists read only LIST_COLUMNS: a row that showed a column left out would read it customer by
    customer, a query per row."""
    from customers.selectors import customer_list, customer_search_in_name_order, rm_book
    from customers.tables import customer_list_rows

    CustomerFactory(kind=Customer.Kind.CORPORATE, legal_name="Acme s.r.o.", home_branch=branch_a, primary_rm=rm_a)
    CustomerFactory.create_batch(3, last_name="Novakova", home_branch=branch_a, primary_rm=rm_a)
    searched, _count = customer_search_in_name_order(query="novakova", rows=25, count_cap=100)
    for queryset in (customer_list(), rm_book(rm_id=rm_a.pk), searched):
        with django_assert_num_queries(1):
            rows = customer_list_rows(list(queryset.order_by("id")))
        assert len(rows) == (4 if queryset is not searched else 3)
        assert all(row.name and row.branch and row.rm and row.stage for row in rows)


def test_customer_url_is_what_reverse_gives_for_every_id_and_script_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    def customer_url(customer_id: int) -> str:
        return Customer(pk=customer_id).get_absolute_url()

    for customer_id in (1, 7, 918_273_645, 10**15):
        assert customer_url(customer_id) == reverse("customers:customer-detail", args=[customer_id])
    prefix = get_script_prefix()
    try:
        set_script_prefix("/crm/")  # the app served under a path of the bank's portal
        assert customer_url(42) == reverse("customers:customer-detail", args=[42]) == "/crm/customers/42/"
    finally:
        set_script_prefix(prefix)
    assert customer_url(42) == "/customers/42/"


def test_fixed_and_id_urls_are_what_reverse_gives_under_any_script_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    from crm_bank.ui.links import fixed_url, id_url

    prefix = get_script_prefix()
    try:
        for script_prefix in ("/", "/crm/"):
            set_script_prefix(script_prefix)
            for name in ("home", "customers:customer-list", "customers:my-book", "logout"):
                assert fixed_url(name) == reverse(name)
            assert id_url("customers:customer-transactions", 7) == reverse("customers:customer-transactions", args=[7])
        assert fixed_url("home") == "/crm/"
    finally:
        set_script_prefix(prefix)


# The routes the load-tested pages (the 360° page and its panels, the war room) link to with
# {% id_url %} (one integer id each).
ID_URL_ROUTES = ("campaigns:dashboard", "campaigns:detail", "channels:complaint-open", "channels:customer-timeline",
                 "channels:customer-touchpoints",
                 "channels:interaction-log", "customers:customer-data-quality", "customers:customer-detail",
                 "customers:customer-field-changes", "customers:customer-transactions", "customers:customer-unmask",
                 "segmentation:customer-predictions")


def test_id_url_tag_writes_what_the_url_tag_writes_under_any_script_prefix():
    from django.template import Context, Template
    from django.urls import get_script_prefix, set_script_prefix

    prefix = get_script_prefix()
    try:
        for script_prefix in ("/", "/crm/"):
            set_script_prefix(script_prefix)
            for name in ID_URL_ROUTES:
                ours = Template("{% load crm_links %}{% id_url name 41 as link %}[{{ link }}]").render(
                    Context({"name": name}))
                assert ours == f"[{reverse(name, args=[41])}]"
                plain = Template("{% load crm_links %}{% id_url name 41 %}").render(Context({"name": name}))
                assert plain == ours[1:-1]
    finally:
        set_script_prefix(prefix)


def test_the_load_tested_templates_link_only_through_the_tested_id_url_routes():
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    used = set()
    for name in ("customers/customer_detail.html", "channels/_timeline_panel.html", "channels/_timeline_rows.html",
                 "customers/_transactions_panel.html", "campaigns/dashboard.html", "campaigns/_dashboard_live.html",
                 "customers/my_book.html", "customers/customer_list.html", "customers/_customer_table.html"):
        text = (templates / name).read_text()
        assert "{% url " not in text, name
        used |= set(re.findall(r"{% id_url '([a-z:\-]+)'", text))
    assert used and used <= set(ID_URL_ROUTES)
