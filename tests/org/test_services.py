"""Organisation services: deactivating a member of staff."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_bank.audit.models import AuditEvent
from crm_bank.org import services as org_services
from crm_bank.org.services import user_deactivate

pytestmark = pytest.mark.django_db


def test_user_deactivate_asks_the_guards_with_the_users_row_locked(rm_a, supervisor_a, monkeypatch):
    """The guards' answer and the deactivation belong to one transaction: the user's row is locked
    before any guard looks, so a book transfer to them cannot slip in between."""
    seen: list[int] = []

    def guard(user):
        seen.append(len(queries.captured_queries))
        return None

    monkeypatch.setattr(org_services, "_deactivation_guards", [guard])
    with CaptureQueriesContext(connection) as queries:
        user_deactivate(user=rm_a, actor=supervisor_a)
    before_guard = [query["sql"] for query in queries.captured_queries[:seen[0]]]
    assert any("FOR UPDATE" in sql and "auth_user" in sql for sql in before_guard)
    assert any(sql.startswith("SAVEPOINT") for sql in before_guard)  # the service's own transaction
    rm_a.refresh_from_db()
    assert not rm_a.is_active
    assert AuditEvent.objects.filter(object_type="user", object_id=str(rm_a.pk), detail__is_active=False).exists()


def test_user_deactivate_refused_by_a_guard_writes_nothing(rm_a, supervisor_a, monkeypatch):
    monkeypatch.setattr(org_services, "_deactivation_guards", [lambda user: "Still needed."])
    with pytest.raises(ValidationError) as refused:
        user_deactivate(user=rm_a, actor=supervisor_a)
    assert refused.value.messages == ["Still needed."]
    rm_a.refresh_from_db()
    assert rm_a.is_active
    assert not AuditEvent.objects.filter(object_type="user", object_id=str(rm_a.pk)).exists()


def test_user_deactivate_of_an_inactive_user_writes_nothing(rm_a, supervisor_a, monkeypatch):
    monkeypatch.setattr(org_services, "_deactivation_guards", [])
    type(rm_a).objects.filter(pk=rm_a.pk).update(is_active=False)
    user_deactivate(user=rm_a, actor=supervisor_a)
    assert not AuditEvent.objects.filter(object_type="user", object_id=str(rm_a.pk)).exists()
