"""The runs admin: a read-only list with filters, for bank administrators."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm_bank.runs.models import Run
from tests.runs.factories import RunFactory

pytestmark = pytest.mark.django_db


def test_run_admin_lists_runs_with_filters_read_only(client, bank_admin, django_assert_max_num_queries):
    RunFactory(status=Run.Status.FAILED, error="no heartbeat since 2020-01-01T00:00:00+00:00")
    RunFactory(kind="other", status=Run.Status.SUCCEEDED)
    client.force_login(bank_admin)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:runs_run_changelist"), {"status__exact": "failed"})

    assert response.status_code == 200
    assert [run.status for run in response.context["cl"].result_list] == ["failed"]
    assert client.get(reverse("admin:runs_run_add")).status_code == 403


def test_run_admin_closed_to_staff_who_are_not_administrators(client, rm_a):
    rm_a.is_staff = True
    rm_a.save(update_fields=["is_staff"])
    client.force_login(rm_a)

    assert client.get(reverse("admin:runs_run_changelist")).status_code == 302
