"""Merging two golden records of one customer, and undoing the merge exactly.

A merge keeps the survivor, takes the chosen values from the absorbed record, moves every row that
points at the absorbed record and leaves it as a tombstone (`merged_into` = the survivor) whose old
links redirect. Everything needed to undo it is kept on the CustomerMerge row: both records' field
values before, the side chosen per field, and the ids of every row moved (or left behind).

What moves, per table:
- registered references of the apps above customers (customers.merge_registry): interactions,
  complaints, tasks, churn flags, campaign contacts; a row that would break a unique rule on the
  survivor stays on the tombstone and is recorded under "_kept";
- account holders (a joint account both records hold: the absorbed's holding stays), so the
  absorbed record's accounts and their transactions appear on the survivor; source records and
  import rows;
- RM history: all of the absorbed's periods move; of the two current assignments the one of the
  RM who is not kept is ended at the merge (recorded under "_ended", reopened by the unmerge);
- field provenance, per field group: the side whose values were taken keeps its provenance; when
  that is the absorbed's and the survivor has a row of its own, the survivor's row takes its
  source and time (the old ones recorded under "_provenance"), else the absorbed's row moves;
- pending match candidates of the absorbed record are superseded (restored by the unmerge);
- tombstones of earlier merges into the absorbed record now point at the survivor (every old link
  is one redirect from the live record); the unmerge points them back.
Segmentation results are keyed (run, customer) and stay on the tombstone: they describe the runs
that produced them. The next run scores the survivor with both records' holdings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DateField, DateTimeField, Field, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.names import person_name
from customers.merge_registry import (
    CustomerReference,
    customer_reference_for_key,
    customer_references,
    references_move,
    rows_move_back,
)
from customers.models import (
    FIELD_GROUPS,
    AccountHolder,
    Customer,
    CustomerMerge,
    FieldGroup,
    FieldProvenance,
    ImportRow,
    MatchCandidate,
    RMAssignment,
    SourceRecord,
    SourceSystem,
    SurvivorshipRule,
)
from customers.naming import customer_name_keys

SURVIVOR, ABSORBED = "survivor", "absorbed"
Strategy = SurvivorshipRule.Strategy

# Field → its field group (survivorship rule and provenance), or None for fields no source sends,
# which take the more complete value unless _OTHER_RULES says otherwise.
MERGE_FIELDS: dict[str, str | None] = {
    **FIELD_GROUPS,
    "occupation": None, "marital_status": None, "education": None, "interests": None, "attributes": None,
    "customer_since": None, "kyc_review_due": None, "lifecycle_stage": None,
    "household": None, "household_role": None,
}
# Fields that only make sense together: one side supplies all of them (the first names the set).
LINKED_FIELDS: tuple[tuple[str, ...], ...] = (
    ("national_id", "national_id_type"),
    ("marketing_consent", "marketing_consent_at", "marketing_consent_source", "do_not_contact"),
    ("household", "household_role"),
)
# The longest-standing relationship and the earliest KYC review due: the safer of the two dates.
_EARLIER_DATE = ("customer_since", "kyc_review_due")
# The more active lifecycle stage survives (the nightly lifecycle run recomputes it anyway).
_STAGE_RANK = {Customer.Lifecycle.LOYAL: 4, Customer.Lifecycle.CUSTOMER: 3, Customer.Lifecycle.DORMANT: 2,
               Customer.Lifecycle.PROSPECT: 1, Customer.Lifecycle.CLOSED: 0}
# Keys of CustomerMerge.moved that are not "app_label.model" lists of moved ids.
_KEPT, _ENDED, _PROVENANCE, _SUPERSEDED, _CANDIDATE = "_kept", "_ended", "_provenance", "_superseded", "_candidate"
# The customers app's own references that move like the registered ones.
# Rows of customers' own models that follow a merge; older tombstones of the absorbed record are
# re-pointed at the survivor, so every merged-away record is one hop from the live one.
_OWN_REFERENCES = (CustomerReference(AccountHolder), CustomerReference(SourceRecord), CustomerReference(ImportRow),
                   CustomerReference(Customer, "merged_into"))


def _units() -> list[tuple[str, ...]]:
    """The fields in choosing units: linked sets whole, every other field alone."""
    linked = {name for names in LINKED_FIELDS for name in names}
    return list(LINKED_FIELDS) + [(name,) for name in MERGE_FIELDS if name not in linked]


def _attname(name: str) -> str:
    return Customer._meta.get_field(name).attname


def _is_empty(value: object) -> bool:
    return value is None or value is False or value in ("", [], {})


def _size(value: object) -> int:
    """How much a value says: its length for text and lists, 1 for any other filled value."""
    if isinstance(value, (str, list, dict)):
        return len(value)
    return 0 if _is_empty(value) else 1


def merge_field_choices(*, survivor: Customer, absorbed: Customer) -> dict[str, str]:
    """Per merge field, "survivor" or "absorbed": whose value the merged record keeps.

    1. Equal values keep the survivor's; a value empty on one side takes the filled one.
    2. Otherwise the group's SurvivorshipRule decides: trust compares the trust (for that group)
       of the sources that last set each side's values (FieldProvenance; none: the default trust);
       recent takes the newer provenance (none: the record's last update); complete the fuller
       value. Ties keep the survivor's.
    3. Fields no source sends: the earlier of two dates for customer_since and kyc_review_due, the
       more active lifecycle stage, the fuller value for the rest.
    Linked fields (national ID and its type, the consent fields, household and role) go together.
    """
    strategies = dict(SurvivorshipRule.objects.values_list("group", "strategy"))
    provenance = {(row.customer_id, row.group): row for row in
                  FieldProvenance.objects.filter(customer_id__in=[survivor.pk, absorbed.pk]).select_related("source")}

    def trust(customer: Customer, group: str) -> int:
        row = provenance.get((customer.pk, group))
        return row.source.trust(group) if row else SourceSystem.DEFAULT_TRUST

    def set_at(customer: Customer, group: str) -> datetime:
        row = provenance.get((customer.pk, group))
        return row.set_at if row else customer.updated_at

    chosen: dict[str, str] = {}
    for unit in _units():
        ours = [getattr(survivor, _attname(name)) for name in unit]
        theirs = [getattr(absorbed, _attname(name)) for name in unit]
        group, lead = MERGE_FIELDS[unit[0]], unit[0]
        if ours == theirs or all(map(_is_empty, theirs)):
            side = SURVIVOR
        elif all(map(_is_empty, ours)):
            side = ABSORBED
        elif group is not None and strategies.get(group, Strategy.TRUST) == Strategy.TRUST:
            side = ABSORBED if trust(absorbed, group) > trust(survivor, group) else SURVIVOR
        elif group is not None and strategies.get(group) == Strategy.RECENT:
            side = ABSORBED if set_at(absorbed, group) > set_at(survivor, group) else SURVIVOR
        elif lead in _EARLIER_DATE:
            side = ABSORBED if theirs[0] < ours[0] else SURVIVOR
        elif lead == "lifecycle_stage":
            side = ABSORBED if _STAGE_RANK.get(theirs[0], 0) > _STAGE_RANK.get(ours[0], 0) else SURVIVOR
        else:
            side = ABSORBED if sum(map(_size, theirs)) > sum(map(_size, ours)) else SURVIVOR
        chosen.update(dict.fromkeys(unit, side))
    return chosen


def _overrides(choices: dict[str, str]) -> dict[str, str]:
    """A reviewer's choices, checked, with each linked set completed from its member's choice."""
    unknown = sorted(set(choices) - set(MERGE_FIELDS))
    if unknown:
        raise ValidationError(_("These fields cannot be chosen in a merge: %(fields)s.")
                              % {"fields": ", ".join(unknown)})
    if any(side not in (SURVIVOR, ABSORBED) for side in choices.values()):
        raise ValidationError(_("Choose each field's value from the survivor or the absorbed record."))
    result = dict(choices)
    for unit in LINKED_FIELDS:
        sides = {choices[name] for name in unit if name in choices}
        if len(sides) > 1:
            raise ValidationError(_("%(fields)s go together: take them all from one record.")
                                  % {"fields": ", ".join(unit)})
        if sides:
            result.update(dict.fromkeys(unit, sides.pop()))
    return result


def _staff_name(user: AbstractBaseUser | None) -> str:
    return (person_name(given=user.first_name, family=user.last_name) or user.get_username()) if user else ""


def _actor_may_merge(actor: AbstractBaseUser | None, branch_ids: Iterable[int]) -> bool:
    """Administrators anywhere; a supervisor when every record involved is of their branch; no actor:
    the bank's own automatic merge (find-duplicates above the auto-merge threshold)."""
    if actor is None:
        return True
    profile = staff_profile_for_user(actor)
    if profile is None or not actor.is_active:
        return False
    if profile.role == StaffProfile.Role.ADMIN:
        return True
    return profile.role == StaffProfile.Role.SUPERVISOR and profile.branch_id is not None \
        and all(branch_id == profile.branch_id for branch_id in branch_ids)


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """Every stored field by column attribute, as JSON values (dates and times in ISO format); the
    columns PostgreSQL computes (completeness) follow from the others."""
    return {field.attname: _json_value(getattr(customer, field.attname)) for field in Customer._meta.concrete_fields
            if not field.generated}


def _snapshot_value(field: Field, value: object) -> object:
    if value is None:
        return None
    if isinstance(field, DateTimeField):  # a DateField too: asked first
        return datetime.fromisoformat(value)
    if isinstance(field, DateField):
        return date.fromisoformat(value)
    return value


def _snapshot_apply(customer: Customer, snapshot: dict[str, Any]) -> None:
    for field in Customer._meta.concrete_fields:
        if not field.primary_key and not field.generated:
            setattr(customer, field.attname, _snapshot_value(field, snapshot[field.attname]))


def _save(customer: Customer, *, actor: AbstractBaseUser | None, reason: str, fields: list[str] | None) -> None:
    """One save, so django-simple-history writes one row with the actor and the reason."""
    customer.name_key, customer.name_key_reversed = customer_name_keys(
        kind=customer.kind, first_name=customer.first_name, last_name=customer.last_name,
        legal_name=customer.legal_name)
    customer._history_user = actor
    customer._change_reason = reason
    customer.save(update_fields=None if fields is None else [*fields, "name_key", "name_key_reversed", "updated_at"])


def _locked_pair(first_id: int, second_id: int) -> dict[int, Customer]:
    """Both rows locked in id order (two merges of crossing pairs cannot deadlock)."""
    rows = Customer.objects.select_for_update().filter(pk__in=[first_id, second_id]).order_by("pk")
    return {customer.pk: customer for customer in rows}


def _merge_refusal(survivor: Customer, absorbed: Customer) -> str | None:
    if survivor.pk == absorbed.pk:
        return _("A customer cannot be merged into itself.")
    if absorbed.merged_into_id is not None:
        return _("Customer %(cif)s was already merged into another customer.") % {"cif": absorbed.cif}
    if survivor.merged_into_id is not None:
        return _("Customer %(cif)s was merged into another customer: merge into that one instead.") % {
            "cif": survivor.cif}
    return None


def customer_merge(
    *, survivor: Customer, absorbed: Customer, actor: AbstractBaseUser | None, choices: dict[str, str] | None = None,
    candidate: MatchCandidate | None = None, ip_address: str | None = None,
) -> CustomerMerge:
    """Merges `absorbed` into `survivor` in one transaction, with both rows locked in id order.

    1. Refuses an actor who may not merge these records (PermissionDenied, audited; no actor is the
       automatic merge), a merge into itself or involving a tombstone, and records with different
       RMs unless a person's choices["primary_rm"] says whose RM the merged customer keeps (the
       ownership conflict; an automatic merge is always refused then).
    2. Snapshots both records into the CustomerMerge row.
    3. The absorbed record becomes a tombstone (merged_into, closed, no RM, no household; its
       national ID cleared when the survivor takes it); the survivor takes the chosen values and
       the later last contact. Both saves write a history row "merge #id".
    4. Moves every referencing row (module docstring), recording the ids.
    5. Audits both records and marks the candidate merged.
    """
    overrides = _overrides(choices or {})
    try:
        with transaction.atomic():
            locked = _locked_pair(survivor.pk, absorbed.pk)
            if len(locked) < len({survivor.pk, absorbed.pk}):
                raise ValidationError(_("One of the two customers no longer exists."))
            survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
            if not _actor_may_merge(actor, [survivor.home_branch_id, absorbed.home_branch_id]):
                raise PermissionDenied(_("Only an administrator, or a supervisor of both customers' branch, "
                                         "may merge customers."))
            if refusal := _merge_refusal(survivor, absorbed):
                raise ValidationError(refusal)
            candidate = _candidate_locked(candidate, survivor, absorbed)
            conflict = _ownership_conflict(survivor, absorbed, overrides, automatic=actor is None)
            chosen = merge_field_choices(survivor=survivor, absorbed=absorbed) | overrides
            now = timezone.now()
            merge = CustomerMerge.objects.create(
                survivor=survivor, absorbed=absorbed, candidate=candidate, survivor_before=customer_snapshot(survivor),
                absorbed_before=customer_snapshot(absorbed), chosen=chosen, ownership_conflict=conflict,
                merged_by=actor, merged_at=now,
            )
            taken = _apply_values(merge, survivor, absorbed, actor=actor)
            merge.moved = _move_rows(merge, survivor, absorbed, now=now)
            if candidate is not None:
                merge.moved[_CANDIDATE] = _candidate_decide(candidate, actor=actor, now=now)
            merge.save(update_fields=["moved"])
            _audit(actor, merge, ip_address, {"merge": merge.pk, "fields_taken": taken,
                                               "ownership_conflict": conflict, "moved": _counts(merge.moved),
                                               "kept": _counts(merge.moved.get(_KEPT, {}))})
    except PermissionDenied:
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.DENIED,
                     object_type="customer", object_id=absorbed.pk, ip_address=ip_address,
                     detail={"merge_into": survivor.pk, "reason": "not allowed to merge"})
        raise
    except IntegrityError as error:
        raise ValidationError(_("The merged record would clash with another customer (the same national ID "
                                "or customer number). Nothing was changed.")) from error
    return merge


def _ownership_conflict(survivor: Customer, absorbed: Customer, overrides: dict[str, str], *, automatic: bool) -> bool:
    """Whether the records have different RMs; refused unless a person chose whose RM stays (an
    automatic merge never chooses: the pair waits for a supervisor)."""
    conflict = None not in (survivor.primary_rm_id, absorbed.primary_rm_id) \
        and survivor.primary_rm_id != absorbed.primary_rm_id
    if conflict and (automatic or "primary_rm" not in overrides):
        raise ValidationError(
            _("The two records have different RMs (%(survivor_rm)s and %(absorbed_rm)s): choose the RM the "
              "merged customer keeps.")
            % {"survivor_rm": _staff_name(survivor.primary_rm), "absorbed_rm": _staff_name(absorbed.primary_rm)})
    return conflict


def _candidate_locked(
    candidate: MatchCandidate | None, survivor: Customer, absorbed: Customer
) -> MatchCandidate | None:
    if candidate is None:
        return None
    candidate = MatchCandidate.objects.select_for_update().get(pk=candidate.pk)
    if {candidate.left_id, candidate.right_id} != {survivor.pk, absorbed.pk}:
        raise ValidationError(_("This match candidate is not about these two customers."))
    if candidate.status != MatchCandidate.Status.PENDING:
        raise ValidationError(_("This match candidate was already decided."))
    return candidate


def _candidate_decide(candidate: MatchCandidate, *, actor: AbstractBaseUser, now: datetime) -> dict[str, Any]:
    before = {"id": candidate.pk, "status": candidate.status, "decided_by": candidate.decided_by_id,
              "decided_at": _json_value(candidate.decided_at)}
    MatchCandidate.objects.filter(pk=candidate.pk).update(
        status=MatchCandidate.Status.MERGED, decided_by=actor, decided_at=now)
    return before


def _apply_values(merge: CustomerMerge, survivor: Customer, absorbed: Customer, *, actor) -> list[str]:
    """The tombstone first (it may give up its national ID), then the survivor; the names taken."""
    reason = f"merge #{merge.pk}"
    chosen = merge.chosen
    taken = [name for name in MERGE_FIELDS if chosen.get(name) == ABSORBED
             and getattr(survivor, _attname(name)) != getattr(absorbed, _attname(name))]
    tombstone = {"merged_into_id": survivor.pk, "lifecycle_stage": Customer.Lifecycle.CLOSED,
                 "primary_rm_id": None, "household_id": None, "household_role": ""}
    if {"national_id", "national_id_type"} & set(taken):  # unique: the tombstone lets go of it first
        tombstone |= {"national_id": "", "national_id_type": ""}
    values = {_attname(name): getattr(absorbed, _attname(name)) for name in taken}
    if absorbed.last_contact_at and (not survivor.last_contact_at
                                     or absorbed.last_contact_at > survivor.last_contact_at):
        values |= {"last_contact_at": absorbed.last_contact_at, "last_contact_channel": absorbed.last_contact_channel}
    for attname, value in tombstone.items():
        setattr(absorbed, attname, value)
    _save(absorbed, actor=actor, reason=reason, fields=list(tombstone))
    for attname, value in values.items():
        setattr(survivor, attname, value)
    _save(survivor, actor=actor, reason=reason, fields=list(values))
    return taken


def _move_rows(merge: CustomerMerge, survivor: Customer, absorbed: Customer, *, now: datetime) -> dict[str, Any]:
    moved: dict[str, Any] = {_KEPT: {}, _ENDED: {}}
    for reference in (*_OWN_REFERENCES, *customer_references()):
        ids, kept = references_move(reference=reference, from_id=absorbed.pk, to_id=survivor.pk)
        moved[reference.key] = ids
        if kept:
            moved[_KEPT][reference.key] = kept
    # RM history: the period of the RM not kept ends now (the survivor keeps one current RM).
    keep_absorbed_rm = merge.chosen.get("primary_rm") == ABSORBED
    ending = RMAssignment.objects.filter(customer=survivor if keep_absorbed_rm else absorbed, ended_at__isnull=True)
    moved[_ENDED]["customers.rmassignment"] = sorted(ending.values_list("pk", flat=True))
    ending.update(ended_at=now)
    moved["customers.rmassignment"] = sorted(
        RMAssignment.objects.filter(customer=absorbed).values_list("pk", flat=True))
    RMAssignment.objects.filter(pk__in=moved["customers.rmassignment"]).update(customer=survivor)
    moved.update(_provenance_move(merge, survivor, absorbed))
    pending = MatchCandidate.objects.filter(Q(left=absorbed) | Q(right=absorbed), status=MatchCandidate.Status.PENDING)
    if merge.candidate_id:
        pending = pending.exclude(pk=merge.candidate_id)
    moved[_SUPERSEDED] = sorted(pending.values_list("pk", flat=True))
    MatchCandidate.objects.filter(pk__in=moved[_SUPERSEDED]).update(status=MatchCandidate.Status.SUPERSEDED)
    return moved


def _provenance_move(merge: CustomerMerge, survivor: Customer, absorbed: Customer) -> dict[str, Any]:
    """Per group, the provenance of the side that supplied most of the group's differing values (the
    absorbed's when the survivor has none and took any of the group's values from it)."""
    rows = {(row.customer_id, row.group): row for row in
            FieldProvenance.objects.filter(customer_id__in=[survivor.pk, absorbed.pk])}
    moved_ids, replaced = [], {}
    for group in FieldGroup.values:
        sides = [side for name, side in merge.chosen.items() if MERGE_FIELDS.get(name) == group
                 and merge.survivor_before[_attname(name)] != merge.absorbed_before[_attname(name)]]
        theirs, ours = rows.get((absorbed.pk, group)), rows.get((survivor.pk, group))
        if theirs is None or ABSORBED not in sides:
            continue
        if ours is None:  # the survivor knew nothing of the group's source: any value taken brings it
            moved_ids.append(theirs.pk)
            continue
        if sides.count(ABSORBED) <= sides.count(SURVIVOR):
            continue
        replaced[str(ours.pk)] = {"source": ours.source_id, "set_at": ours.set_at.isoformat()}
        FieldProvenance.objects.filter(pk=ours.pk).update(source_id=theirs.source_id, set_at=theirs.set_at)
    FieldProvenance.objects.filter(pk__in=moved_ids).update(customer=survivor)
    return {"customers.fieldprovenance": sorted(moved_ids), _PROVENANCE: replaced}


def _counts(moved: dict[str, Any]) -> dict[str, int]:
    return {key: len(ids) for key, ids in moved.items() if not key.startswith("_") and ids}


def _audit(actor, merge: CustomerMerge, ip_address: str | None, detail: dict[str, Any]) -> None:
    for role, customer_id in (("survivor", merge.survivor_id), ("absorbed", merge.absorbed_id)):
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="customer", object_id=customer_id, ip_address=ip_address,
                     detail={**detail, "role": role, "survivor": merge.survivor_id, "absorbed": merge.absorbed_id})


def _later_merge(merge: CustomerMerge) -> CustomerMerge | None:
    ids = [merge.survivor_id, merge.absorbed_id]
    return (CustomerMerge.objects.filter(unmerged_at__isnull=True, pk__gt=merge.pk)
            .filter(Q(survivor_id__in=ids) | Q(absorbed_id__in=ids))
            .select_related("survivor", "absorbed").order_by("pk").first())


def customer_unmerge(
    *, merge: CustomerMerge, actor: AbstractBaseUser | None, ip_address: str | None = None
) -> Customer:
    """Undoes `merge`: both records exactly as they were, every recorded row back. Returns the
    restored absorbed record.

    1. Refuses an actor who may not merge these records (PermissionDenied, audited), a merge
       already undone, and one that a later merge in force builds on (that one first).
    2. Moves back exactly the recorded rows, reopens the RM periods the merge ended, restores the
       survivor's provenance and the candidates' status.
    3. Both records take their snapshot values (a history row "unmerge #id" each); the survivor keeps
       a contact logged after the merge as its last contact. The merge is marked undone and audited.
    """
    try:
        with transaction.atomic():
            merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
            # Locked before looking for later merges: one being made now waits for these rows.
            locked = _locked_pair(merge.survivor_id, merge.absorbed_id)
            survivor, absorbed = locked[merge.survivor_id], locked[merge.absorbed_id]
            if "home_branch_id" not in merge.absorbed_before or "home_branch_id" not in merge.survivor_before:
                # Retention anonymised the customer and replaced the snapshots: nothing to restore.
                raise ValidationError(_("This merge cannot be undone: the customer was anonymised under the "
                                        "retention rules."))
            if not _actor_may_merge(actor, [survivor.home_branch_id, merge.absorbed_before["home_branch_id"]]):
                raise PermissionDenied(_("Only an administrator, or a supervisor of both customers' branch, "
                                         "may undo a merge."))
            if merge.unmerged_at is not None:
                raise ValidationError(_("This merge was already undone."))
            if later := _later_merge(merge):
                raise ValidationError(
                    _("Undo merge #%(id)s first: it merged %(absorbed)s into %(survivor)s after this one.")
                    % {"id": later.pk, "absorbed": later.absorbed.cif, "survivor": later.survivor.cif})
            moved_back = _move_rows_back(merge)
            reason = f"unmerge #{merge.pk}"
            contact = (survivor.last_contact_at, survivor.last_contact_channel)
            _snapshot_apply(survivor, merge.survivor_before)
            snapshots = (merge.survivor_before["last_contact_at"], merge.absorbed_before["last_contact_at"])
            if contact[0] and all(not at or contact[0] > datetime.fromisoformat(at) for at in snapshots):
                survivor.last_contact_at, survivor.last_contact_channel = contact
            _save(survivor, actor=actor, reason=reason, fields=None)
            _snapshot_apply(absorbed, merge.absorbed_before)
            _save(absorbed, actor=actor, reason=reason, fields=None)
            for customer, snapshot in ((survivor, merge.survivor_before), (absorbed, merge.absorbed_before)):
                Customer.objects.filter(pk=customer.pk).update(updated_at=snapshot["updated_at"])
                customer.updated_at = datetime.fromisoformat(snapshot["updated_at"])
            merge.unmerged_at, merge.unmerged_by = timezone.now(), actor
            merge.save(update_fields=["unmerged_at", "unmerged_by"])
            _audit(actor, merge, ip_address, {"unmerge": merge.pk, "moved_back": moved_back})
    except PermissionDenied:
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.DENIED,
                     object_type="customer", object_id=merge.absorbed_id, ip_address=ip_address,
                     detail={"unmerge": merge.pk, "reason": "not allowed to undo a merge"})
        raise
    except IntegrityError as error:
        raise ValidationError(_("The merge cannot be undone: a record it would restore now clashes with "
                                "another one. Nothing was changed.")) from error
    return absorbed


def _move_rows_back(merge: CustomerMerge) -> dict[str, int]:
    moved, survivor_id, absorbed_id = merge.moved, merge.survivor_id, merge.absorbed_id
    counts = {}
    for key, ids in moved.items():
        if key.startswith("_"):
            continue
        reference = customer_reference_for_key(key) or next((r for r in _OWN_REFERENCES if r.key == key), None)
        if reference is None:  # customers' own special cases, or an app no longer registered
            label, _sep, field_name = key.partition(":")
            reference = CustomerReference(apps.get_model(label), field_name or "customer")
        counts[key] = rows_move_back(model=reference.model, column=reference.column, ids=ids,
                                     from_id=survivor_id, to_id=absorbed_id)
    RMAssignment.objects.filter(pk__in=moved.get(_ENDED, {}).get("customers.rmassignment", [])).update(ended_at=None)
    for pk, before in moved.get(_PROVENANCE, {}).items():
        FieldProvenance.objects.filter(pk=int(pk)).update(source_id=before["source"],
                                                          set_at=datetime.fromisoformat(before["set_at"]))
    _candidates_restore(moved)
    return {key: count for key, count in counts.items() if count}


def _candidates_restore(moved: dict[str, Any]) -> None:
    """Superseded candidates (and the merged one) are open again, unless the pair has a newer open one."""
    reopen = list(moved.get(_SUPERSEDED, []))
    before = moved.get(_CANDIDATE)
    if before:
        MatchCandidate.objects.filter(pk=before["id"]).update(
            decided_by_id=before["decided_by"],
            decided_at=before["decided_at"] and datetime.fromisoformat(before["decided_at"]),
            status=MatchCandidate.Status.SUPERSEDED)
        reopen.append(before["id"])
    for candidate in MatchCandidate.objects.filter(pk__in=reopen, status=MatchCandidate.Status.SUPERSEDED):
        open_pair = MatchCandidate.objects.filter(left_id=candidate.left_id, right_id=candidate.right_id,
                                                  status=MatchCandidate.Status.PENDING)
        if candidate.right_id is None or not open_pair.exists():
            MatchCandidate.objects.filter(pk=candidate.pk).update(status=MatchCandidate.Status.PENDING)
