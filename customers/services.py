"""Writes to customer records. Each service validates, runs in one transaction and audits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TypedDict, Unpack

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.security.limits import allowance_take
from customers.catalogue import PRODUCT_NAMES_ZH
from customers.masking import is_masked_field
from customers.models import (
    FIELD_GROUPS,
    Customer,
    FieldProvenance,
    Household,
    Product,
    RMAssignment,
    SourceRecord,
    SourceSystem,
)
from customers.naming import customer_name_keys
from customers.selectors import search_identifier_kinds, search_identifier_matched
from customers.validation import national_id_clean, phone_clean


def source_systems_builtin_ensure() -> None:
    """The source systems the product's own loaders write under (SourceRecord.System), in one INSERT
    that leaves existing rows alone (an admin may have renamed them or changed their trust)."""
    SourceSystem.objects.bulk_create(
        [SourceSystem(code=code, name=str(label)) for code, label in SourceRecord.System.choices],
        ignore_conflicts=True,
    )


def field_provenance_stamp(*, customer_id: int, fields: Iterable[str], source: str, at: datetime) -> None:
    """Records that `source` set the field groups of `fields` on the customer at `at`: the freshness
    the 360° page shows and the trust survivorship compares. One upsert, in the caller's transaction."""
    groups = sorted({FIELD_GROUPS[name] for name in fields if name in FIELD_GROUPS})
    FieldProvenance.objects.bulk_create(
        [FieldProvenance(customer_id=customer_id, group=group, source_id=source, set_at=at) for group in groups],
        update_conflicts=True, unique_fields=["customer", "group"], update_fields=["source", "set_at"],
    )


def products_ensure(*, catalogue: Iterable[tuple[str, str, str, str]]) -> dict[str, Product]:
    """Creates the (code, name, category, currency) products that are missing, with their Chinese
    names from the catalogue (filled in on existing products that lack one); returns them by code."""
    ensured = {}
    for code, name, category, currency in catalogue:
        name_zh = PRODUCT_NAMES_ZH.get(code, "")
        ensured[code], created = Product.objects.get_or_create(
            code=code, defaults={"name": name, "name_zh": name_zh, "category": category, "currency": currency}
        )
        if not created and name_zh and not ensured[code].name_zh:
            ensured[code].name_zh = name_zh
            ensured[code].save(update_fields=["name_zh"])
    return ensured


class CustomerFields(TypedDict, total=False):
    """The fields a service may set on a customer, by name and type (the RM moves by hand-over)."""

    cif: str
    kind: str
    first_name: str
    last_name: str
    legal_name: str
    national_id_type: str
    national_id: str
    birth_date: date | None
    gender: str
    occupation: str
    marital_status: str
    education: str
    phone: str
    email: str
    address_line: str
    city: str
    postal_code: str
    country: str
    home_branch: Branch
    lifecycle_stage: str
    customer_since: date | None
    preferred_channel: str
    preferred_contact_time: str
    preferred_language: str
    interests: list[str]
    marketing_consent: bool
    marketing_consent_at: datetime | None
    marketing_consent_source: str
    do_not_contact: bool
    kyc_review_due: date | None
    household: Household | None
    household_role: str
    last_contact_at: datetime | None
    last_contact_channel: str
    attributes: dict


class CustomerCreateFields(CustomerFields, total=False):
    primary_rm: AbstractBaseUser | None


def _known_fields(fields: dict[str, object], allowed: type) -> dict[str, object]:
    unknown = set(fields) - set(allowed.__annotations__) - set(CustomerFields.__annotations__)
    if unknown:  # a programming error, not bad input: say which names
        raise TypeError(f"not a customer field a service may set: {', '.join(sorted(unknown))}")
    return dict(fields)


def customer_fields_clean(fields: dict[str, object], *, country: str = "") -> dict[str, object]:
    """Cleans IDs and phones in place of the raw input; ValidationError on bad values. `country`
    (the customer's, unless `fields` changes it) decides a company ID's rule and reads a phone
    number given without its country code."""
    country = str(fields.get("country") or country or "")
    if "national_id" in fields or "national_id_type" in fields:
        fields["national_id"] = national_id_clean(
            id_type=str(fields.get("national_id_type", "")), value=str(fields.get("national_id", "")),
            country=country,
        )
    if "phone" in fields:
        fields["phone"] = phone_clean(str(fields["phone"]), region=country)
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
    return {"fields": sorted(names), "sensitive": sorted(name for name in names if is_masked_field(name))}


def customer_create(
    *, actor: AbstractBaseUser | None, ip_address: str | None = None, **fields: Unpack[CustomerCreateFields]
) -> Customer:
    """Creates a golden record, its first RM assignment and the audit row, or nothing."""
    fields = customer_fields_clean(_known_fields(fields, CustomerCreateFields))
    if fields.get("marketing_consent") and not fields.get("marketing_consent_at"):
        fields["marketing_consent_at"] = timezone.now()
    customer = Customer(**fields)
    _set_name_keys(customer)
    customer._history_user = actor
    customer.full_clean(exclude=["name_key", "name_key_reversed"])
    try:
        with transaction.atomic():
            customer.save()
            field_provenance_stamp(customer_id=customer.pk, fields=fields, source=SourceRecord.System.BRANCH_ENTRY,
                                   at=timezone.now())
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
    *, customer: Customer, actor: AbstractBaseUser | None, ip_address: str | None = None,
    **changes: Unpack[CustomerFields],
) -> Customer:
    """Changes the given fields (history and audit row included); the RM moves via customer_rm_handover.

    A change of marketing consent (given or withdrawn) stamps when it happened, unless the caller
    says when.
    """
    if "primary_rm" in changes or "primary_rm_id" in changes:
        raise ValidationError(_("Change the RM with a hand-over, so the RM history stays complete."))
    changes = _known_fields(changes, CustomerFields)
    if "national_id" in changes or "national_id_type" in changes:
        changes.setdefault("national_id_type", customer.national_id_type)
        changes.setdefault("national_id", customer.national_id)
    if "marketing_consent" in changes or "do_not_contact" in changes:
        changes.setdefault("marketing_consent", customer.marketing_consent)
        changes.setdefault("do_not_contact", customer.do_not_contact)
        if changes["marketing_consent"] != customer.marketing_consent and not changes.get("marketing_consent_at"):
            changes["marketing_consent_at"] = timezone.now()
    changes = customer_fields_clean(changes, country=customer.country)
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
            field_provenance_stamp(customer_id=customer.pk, fields=changed, source=SourceRecord.System.BRANCH_ENTRY,
                                   at=timezone.now())
            audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="customer", object_id=customer.pk, ip_address=ip_address,
                         detail=_changed_fields_detail(changed))
    except IntegrityError as error:
        raise ValidationError(_("Another customer already has this national ID.")) from error
    return customer


def identifier_lookup_take(*, actor: AbstractBaseUser | None) -> None:
    """Counts one look-up that can find any branch's customer by an identifier or by name and birth
    date against the actor's allowance (settings.CRM_IDENTIFIER_LOOKUPS a window); raises
    crm_bank.security.limits.RateLimited once it is spent. Code acting for no one is not counted."""
    if actor is None:
        return
    allowance_take(scope="identifier-lookup", ident=actor.pk, limit=settings.CRM_IDENTIFIER_LOOKUPS,
                   window_seconds=settings.CRM_IDENTIFIER_LOOKUP_WINDOW_SECONDS)


def customer_search_admit(*, actor: AbstractBaseUser, query: str) -> list[str]:
    """The kinds of identifier a search box entry is looked up as ([] for a name search), the look-up
    counted against the actor's allowance when it is one. An entry without digits counts when it found
    a customer by an identifier all the same (a passport of letters only)."""
    kinds = search_identifier_kinds(query) or search_identifier_matched(query)
    if kinds:
        identifier_lookup_take(actor=actor)
    return kinds


def customer_search_audit(
    *, actor: AbstractBaseUser, kinds: list[str], found: list[int], ip_address: str | None = None
) -> AuditEvent | None:
    """A look-up by national ID, phone, customer or account number finds any branch's customer
    (nobody is treated as new), so it is audited: the kinds of identifier and the customers shown,
    never the value typed."""
    if not kinds:
        return None
    return audit_record(actor=actor, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                        object_type="customer_search", object_id="", ip_address=ip_address,
                        detail={"identifier_kinds": kinds, "found": found})


# Run inside a one-customer hand-over's transaction, after the new assignment: (customer id, the
# previous RM's id or None, the new RM, actor, moment, note). Channels registers one that hands the
# previous RM's open work on the customer over and introduces the new RM, as a book transfer does.
HandoverHook = Callable[..., None]
_HANDOVER_HOOKS: list[HandoverHook] = []


def customer_handover_hook_register(hook: HandoverHook) -> HandoverHook:
    if hook not in _HANDOVER_HOOKS:
        _HANDOVER_HOOKS.append(hook)
    return hook


def customer_rm_handover(
    *, customer: Customer, new_rm: AbstractBaseUser, actor: AbstractBaseUser | None, reason: str,
    note: str = "", at: datetime | None = None, ip_address: str | None = None,
) -> RMAssignment:
    """Ends the current RM assignment and starts the new one, keeping the full RM history; the
    registered hand-over hooks move the previous RM's open work on the customer (channels)."""
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
        previous_rm_id = locked.primary_rm_id
        locked.primary_rm = new_rm
        locked._history_user = actor
        locked.save(update_fields=["primary_rm", "updated_at"])
        for hook in _HANDOVER_HOOKS:
            hook(customer_id=locked.pk, from_rm_id=previous_rm_id, to_rm=new_rm, actor=actor, at=at, note=note)
        field_provenance_stamp(customer_id=locked.pk, fields=["primary_rm"], source=SourceRecord.System.BRANCH_ENTRY,
                               at=at)
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="customer", object_id=locked.pk, ip_address=ip_address,
                     detail={"fields": ["primary_rm"], "handover_to": new_rm.pk, "reason": reason})
    customer.primary_rm = new_rm
    return assignment
