"""Writes to customer records. Each service validates, runs in one transaction and audits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from customers.models import Customer, Product, RMAssignment
from customers.naming import customer_name_keys
from customers.validation import national_id_clean, phone_clean


def products_ensure(*, catalogue: Iterable[tuple[str, str, str, str]]) -> dict[str, Product]:
    """Creates the (code, name, category, currency) products that are missing; returns them by code."""
    ensured = {}
    for code, name, category, currency in catalogue:
        ensured[code], _ = Product.objects.get_or_create(
            code=code, defaults={"name": name, "category": category, "currency": currency}
        )
    return ensured


def customer_fields_clean(fields: dict[str, object]) -> dict[str, object]:
    """Cleans IDs and phones in place of the raw input; ValidationError on bad values."""
    if "national_id" in fields or "national_id_type" in fields:
        fields["national_id"] = national_id_clean(
            id_type=str(fields.get("national_id_type", "")), value=str(fields.get("national_id", ""))
        )
    if "phone" in fields:
        fields["phone"] = phone_clean(str(fields["phone"]))
    if fields.get("marketing_consent") and fields.get("do_not_contact"):
        raise ValidationError(_("A customer who asked not to be contacted cannot give marketing consent."))
    return fields


def _set_name_keys(customer: Customer) -> None:
    customer.name_key, customer.name_key_reversed = customer_name_keys(
        kind=customer.kind, first_name=customer.first_name, last_name=customer.last_name,
        legal_name=customer.legal_name,
    )


def _changed_fields_detail(names: list[str]) -> dict[str, list[str]]:
    # The audit row names what changed but never copies a sensitive value into the trail.
    return {"fields": sorted(names), "sensitive": sorted(set(names) & Customer.SENSITIVE_FIELDS)}


def customer_create(*, actor: AbstractBaseUser | None, ip_address: str | None = None, **fields: object) -> Customer:
    """Creates a golden record, its first RM assignment and the audit row, or nothing."""
    fields = customer_fields_clean(dict(fields))
    customer = Customer(**fields)
    _set_name_keys(customer)
    customer._history_user = actor
    customer.full_clean(exclude=["name_key", "name_key_reversed"])
    try:
        with transaction.atomic():
            customer.save()
            if customer.primary_rm_id:
                RMAssignment.objects.create(
                    customer=customer, rm_id=customer.primary_rm_id, started_at=timezone.now(),
                    reason=RMAssignment.Reason.ONBOARDING, assigned_by=actor,
                )
            audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="customer", object_id=customer.pk, ip_address=ip_address,
                         detail=_changed_fields_detail(list(fields)))
    except IntegrityError as error:
        raise ValidationError(_("This customer already exists (same national ID or customer number).")) from error
    return customer


def customer_update(
    *, customer: Customer, actor: AbstractBaseUser | None, ip_address: str | None = None, **changes: object
) -> Customer:
    """Changes the given fields (history and audit row included); the RM moves via customer_rm_handover."""
    if "primary_rm" in changes or "primary_rm_id" in changes:
        raise ValidationError(_("Change the RM with a hand-over, so the RM history stays complete."))
    if "national_id" in changes or "national_id_type" in changes:
        changes.setdefault("national_id_type", customer.national_id_type)
        changes.setdefault("national_id", customer.national_id)
    if "marketing_consent" in changes or "do_not_contact" in changes:
        changes.setdefault("marketing_consent", customer.marketing_consent)
        changes.setdefault("do_not_contact", customer.do_not_contact)
    changes = customer_fields_clean(dict(changes))
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    for name in changed:
        setattr(customer, name, changes[name])
    _set_name_keys(customer)
    customer._history_user = actor
    customer.full_clean(exclude=["name_key", "name_key_reversed"])
    try:
        with transaction.atomic():
            customer.save(update_fields=[*changed, "name_key", "name_key_reversed", "updated_at"])
            audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="customer", object_id=customer.pk, ip_address=ip_address,
                         detail=_changed_fields_detail(changed))
    except IntegrityError as error:
        raise ValidationError(_("Another customer already has this national ID.")) from error
    return customer


def customer_rm_handover(
    *, customer: Customer, new_rm: AbstractBaseUser, actor: AbstractBaseUser | None, reason: str,
    note: str = "", at: datetime | None = None, ip_address: str | None = None,
) -> RMAssignment:
    """Ends the current RM assignment and starts the new one, keeping the full RM history."""
    at = at or timezone.now()
    if reason not in RMAssignment.Reason.values:
        raise ValidationError(_("Unknown hand-over reason."))
    if not StaffProfile.objects.filter(user_id=new_rm.pk, role=StaffProfile.Role.RM, user__is_active=True).exists():
        raise ValidationError(_("Only an active relationship manager can take over a customer."))
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.primary_rm_id == new_rm.pk:
            raise ValidationError(_("This RM already serves the customer."))
        RMAssignment.objects.filter(customer=locked, ended_at__isnull=True).update(ended_at=at)
        assignment = RMAssignment.objects.create(
            customer=locked, rm=new_rm, started_at=at, reason=reason, note=note, assigned_by=actor
        )
        locked.primary_rm = new_rm
        locked._history_user = actor
        locked.save(update_fields=["primary_rm", "updated_at"])
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="customer", object_id=locked.pk, ip_address=ip_address,
                     detail={"fields": ["primary_rm"], "handover_to": new_rm.pk, "reason": reason})
    customer.primary_rm = new_rm
    return assignment
