"""Completeness (stored, filtered, ranked) and freshness: the score PostgreSQL keeps in step with
every write, the list's "incomplete profiles" filter, the 360° data-quality panel with the sources
and each field group's freshness, and the completeness league tables for supervisors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from crm_bank.audit.models import AuditEvent
from customers.models import Customer, FieldProvenance, SourceRecord, SourceSystem
from customers.models.customer import COMPLETENESS_FIELDS, INCOMPLETE_BELOW, completeness_from_points
from customers.services import customer_rm_handover, customer_update
from tests.customers.factories import CustomerFactory
from tests.org.factories import BranchFactory

_FILLED = {
    "national_id": "7103192745", "birth_date": dt.date(1971, 3, 19), "gender": "F", "phone": "+420601123456",
    "email": "a@example.cz", "address_line": "Vodickova 12", "city": "Praha", "occupation": "management",
    "preferred_channel": "web", "preferred_language": "cs",
    "marketing_consent_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "kyc_review_due": dt.date(2030, 1, 1),
}
_EMPTY = {name: None if name in ("birth_date", "marketing_consent_at", "kyc_review_due") else "" for name in _FILLED}


class StoredCompletenessTests(TestCase):
    """The stored column and the in-memory score agree for every combination of filled fields."""

    @settings(max_examples=40, deadline=None)
    @given(st.sets(st.sampled_from([name for name, _ in COMPLETENESS_FIELDS])))
    def test_stored_score_equals_the_python_score(self, filled):
        from crm_bank.org.models import Branch

        branch = Branch.objects.first() or BranchFactory()
        fields = {name: (_FILLED[name] if name in filled else _EMPTY[name]) for name in _FILLED}
        if "national_id" in filled:
            fields["national_id_type"] = "CZ_RC"
        customer = CustomerFactory.build(home_branch=branch, **fields)
        expected = customer.completeness_percent
        customer.save()
        customer.refresh_from_db()
        assert customer.completeness == expected
        points = sum(weight for name, weight in COMPLETENESS_FIELDS if name in filled)
        assert expected == completeness_from_points(points)
        customer.delete()


def test_rounding_is_half_up_at_the_edges():
    assert completeness_from_points(0) == 0
    assert completeness_from_points(sum(weight for _, weight in COMPLETENESS_FIELDS)) == 100
    # 1 of 19 points is 5.26 %, 9.5 of 19 would be exactly 50 %: integers only, rounded half up.
    assert completeness_from_points(1) == 5


@pytest.mark.django_db
def test_a_bulk_sql_update_moves_the_stored_score_too(customer_a):
    before = Customer.objects.get(pk=customer_a.pk).completeness
    with connection.cursor() as cursor:  # as an import's set-based UPDATE writes it
        cursor.execute("UPDATE customers_customer SET phone = '', email = '' WHERE id = %s", [customer_a.pk])
    after = Customer.objects.get(pk=customer_a.pk)
    assert after.completeness == after.completeness_percent < before


@pytest.mark.django_db
def test_incomplete_filter_lists_only_profiles_below_the_threshold(client, rm_a, branch_a, customer_a):
    full = CustomerFactory(home_branch=branch_a, last_name="Fullprofile", **_FILLED | {"national_id": "7203192746"},
                           national_id_type="CZ_RC")
    bare = CustomerFactory(home_branch=branch_a, last_name="Bare", **_EMPTY)
    assert full.completeness == 100 and bare.completeness < INCOMPLETE_BELOW
    client.force_login(rm_a)
    page = client.get(reverse("customers:customer-list"), {"incomplete": "on"}).content.decode()
    assert "Bare" in page and "Fullprofile" not in page
    page = client.get(reverse("customers:customer-list"),
                      {"incomplete": "on", "home_branch": branch_a.pk}).content.decode()
    assert "Bare" in page and "Fullprofile" not in page
    page = client.get(reverse("customers:customer-list")).content.decode()
    assert "Bare" in page and "Fullprofile" in page and f"{bare.completeness}%" in page


@pytest.mark.django_db
def test_incomplete_filter_writes_the_predicate_the_partial_indexes_carry(branch_a):
    """PostgreSQL uses a partial index only for a query whose condition implies the index's: the
    filter must compare the stored column with the same constant (the bench measures the speed)."""
    from customers.filters import CustomerFilter
    from customers.selectors import customer_list

    queryset = CustomerFilter({"incomplete": "on", "home_branch": branch_a.pk}, queryset=customer_list()).qs
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        rendered = cursor.mogrify(sql, params)
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN"
                       " ('customer_incomplete_name_idx', 'customer_branch_incomplete_idx')")
        definitions = dict(cursor.fetchall())
    assert f'"customers_customer"."completeness" < {INCOMPLETE_BELOW}' in rendered
    assert len(definitions) == 2
    assert all(definition.endswith(f"WHERE (completeness < {INCOMPLETE_BELOW})") for definition in definitions.values())


def _quality(client, customer) -> tuple[int, str]:
    response = client.get(reverse("customers:customer-data-quality", args=[customer.pk]), HTTP_HX_REQUEST="true")
    return response.status_code, response.content.decode()


@pytest.mark.django_db
def test_data_quality_panel_lists_sources_freshness_and_what_is_missing(
    client, rm_a, customer_a, django_assert_max_num_queries, settings
):
    old = timezone.now() - dt.timedelta(days=settings.CRM_DATA_STALE_DAYS + 30)
    card = SourceSystem.objects.create(code="card_centre", name="Card centre")
    SourceRecord.objects.create(customer=customer_a, system=card, external_id="4111111111111111",
                                payload={"phone": "+420601123456", "segment": "gold"})
    FieldProvenance.objects.create(customer=customer_a, group="contact", source=card, set_at=old)
    client.force_login(rm_a)
    with django_assert_max_num_queries(8):
        status, panel = _quality(client, customer_a)
    assert status == 200
    assert "Card centre" in panel and "4111111111111111" in panel and "gold" in panel  # the row as received
    assert "Please confirm with the customer" in panel  # contact data older than CRM_DATA_STALE_DAYS
    assert panel.count("data-stale") == 1
    assert "Occupation" in panel  # missing, with the points it would add
    assert AuditEvent.objects.filter(object_id=str(customer_a.pk), detail__purpose="data quality").exists()


@pytest.mark.django_db
def test_data_quality_panel_masks_the_source_key_and_raw_row_for_other_branches(client, rm_b, customer_a):
    card = SourceSystem.objects.create(code="card_centre", name="Card centre")
    SourceRecord.objects.create(customer=customer_a, system=card, external_id="4111111111111111",
                                payload={"national_id": "7103192745"})
    client.force_login(rm_b)
    status, panel = _quality(client, customer_a)
    assert status == 200
    assert "Card centre" in panel and "****1111" in panel
    assert "4111111111111111" not in panel and "7103192745" not in panel and "As received" not in panel


@pytest.mark.django_db
def test_data_quality_panel_refuses_staff_without_a_role(client, no_role_user, customer_a):
    client.force_login(no_role_user)
    assert _quality(client, customer_a)[0] == 403


@pytest.mark.django_db
def test_staff_edits_and_hand_overs_stamp_the_field_groups_as_entered_at_a_branch(rm_a, rm_a2, customer_a):
    customer_update(customer=customer_a, actor=rm_a, phone="+420777111222", city="Brno")
    stamped = dict(FieldProvenance.objects.filter(customer=customer_a).values_list("group", "source"))
    assert stamped == {"contact": "branch", "address": "branch"}
    customer_rm_handover(customer=customer_a, new_rm=rm_a2, actor=rm_a, reason="handover")
    assert FieldProvenance.objects.get(customer=customer_a, group="relationship").source_id == "branch"


@pytest.mark.django_db
def test_completeness_league_ranks_branches_and_the_branch_rms(
    client, supervisor_a, rm_a, rm_b, branch_a, branch_b, customer_a, django_assert_max_num_queries
):
    cache.clear()
    CustomerFactory(home_branch=branch_b, primary_rm=rm_b, **_EMPTY)
    CustomerFactory(home_branch=branch_b, primary_rm=rm_b, **_EMPTY)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("customers:data-quality")).content.decode()
    assert page.index(f'data-branch="{branch_a.code}"') < page.index(f'data-branch="{branch_b.code}"')
    assert f"?home_branch={branch_b.pk}&amp;incomplete=on" in page
    assert f'data-rm="{rm_a.username}"' in page and f'data-rm="{rm_b.username}"' not in page  # own branch's RMs
    from customers.selectors import branch_completeness_league

    league = branch_completeness_league()
    line_b = next(line for line in league.branches if line.branch_id == branch_b.pk)
    assert line_b.customers == 2 and line_b.incomplete == 2 and line_b.incomplete_percent == 100


@pytest.mark.django_db
def test_completeness_league_is_for_supervisors_and_admins(client, rm_a, bank_admin, branch_a, customer_a):
    cache.clear()
    client.force_login(rm_a)
    assert client.get(reverse("customers:data-quality")).status_code == 403
    client.force_login(bank_admin)
    response = client.get(reverse("customers:data-quality"), {"branch": branch_a.pk, "refresh": "1"})
    assert response.status_code == 200 and f'data-rm="{customer_a.primary_rm.username}"' in response.content.decode()


@pytest.mark.django_db
def test_branch_dashboard_figures_are_kept_a_while_and_recomputed_on_demand(
    client, supervisor_a, branch_a, customer_a, monkeypatch
):
    client.force_login(supervisor_a)
    first = client.get(reverse("customers:branch-dashboard")).content.decode()
    assert 'id="branch-customers">1<' in first and 'id="summary-computed"' in first
    CustomerFactory(home_branch=branch_a)
    assert 'id="branch-customers">1<' in client.get(reverse("customers:branch-dashboard")).content.decode()
    # "Recompute" right after a computation shows that one: a reload loop cannot keep PostgreSQL scanning.
    soon = client.get(reverse("customers:branch-dashboard"), {"refresh": "1"}).content.decode()
    assert 'id="branch-customers">1<' in soon
    monkeypatch.setattr("customers.selectors.RECOMPUTE_AFTER_SECONDS", 0)
    fresh = client.get(reverse("customers:branch-dashboard"), {"refresh": "1"}).content.decode()
    assert 'id="branch-customers">2<' in fresh
