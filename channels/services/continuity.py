"""RM continuity: moving a book of customers from one RM to another in one action (with the
relationship digest the new RM starts from), the guard that keeps an RM with customers active, and
the ownership-conflict check that stops an existing customer being signed up as a new prospect.

A book transfer is set-based: a handful of statements whether it moves three customers or three
thousand (customers.services.customer_rm_handover is the one-customer path; this writes the same
RMAssignment rows, history rows and audit rows in bulk).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from channels.models import BookTransfer, Complaint, ComplaintEvent, Interaction, Notification, Task
from channels.services.work import notification_send
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import allocate_ids, quoted_table
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.names import localized, person_name
from crm_bank.ui.templatetags.crm_format import money
from customers.access import customer_full_access_reason
from customers.history import customer_history_write
from customers.masking import masked_value
from customers.models import Account, AccountHolder, Customer, Product, RMAssignment
from customers.naming import customer_name_keys
from customers.services import customer_create, customer_fields_clean, identifier_lookup_take

# A book transfer's reason as the RM history records it.
ASSIGNMENT_REASON = {
    BookTransfer.Reason.STAFF_LEFT: RMAssignment.Reason.STAFF_LEFT,
    BookTransfer.Reason.REBALANCING: RMAssignment.Reason.REBALANCING,
    BookTransfer.Reason.HANDOVER: RMAssignment.Reason.HANDOVER,
}
# An introduction is due within a week of the hand-over.
INTRODUCTION_DUE = datetime.timedelta(days=7)
DIGEST_CONTACTS = 3


def staff_name(user: AbstractBaseUser) -> str:
    return person_name(given=user.first_name, family=user.last_name) or user.get_username()


# Book transfer

def book_transfer_errors(
    *, actor: AbstractBaseUser, from_rm: AbstractBaseUser | None, to_rm: AbstractBaseUser | None, reason: str,
    note: str,
) -> dict[str, str]:
    """Field → message for a transfer that may not happen; empty when it may. Reads only."""
    errors: dict[str, str] = {}
    profile = staff_profile_for_user(actor)
    if from_rm is None:
        return {"from_rm": gettext("Choose the RM whose customers move.")}
    from_profile = StaffProfile.objects.filter(user_id=from_rm.pk).select_related("branch").first()
    if from_profile is None or from_profile.branch_id is None:
        return {"from_rm": gettext("This person has no branch: their customers cannot be moved from here.")}
    is_admin = profile is not None and profile.role == StaffProfile.Role.ADMIN
    if not is_admin and (profile is None or profile.role != StaffProfile.Role.SUPERVISOR
                         or profile.branch_id != from_profile.branch_id):
        raise PermissionDenied(gettext("Only a supervisor of the RM's branch or an administrator can move a book."))
    if to_rm is None:
        errors["to_rm"] = gettext("Choose the RM who takes the customers over.")
    elif to_rm.pk == from_rm.pk:
        errors["to_rm"] = gettext("The customers already belong to this RM: choose another RM.")
    else:
        to_profile = StaffProfile.objects.filter(user_id=to_rm.pk).first()
        if to_profile is None or to_profile.role != StaffProfile.Role.RM:
            errors["to_rm"] = gettext("%(name)s is not a relationship manager.") % {"name": staff_name(to_rm)}
        elif to_profile.branch_id != from_profile.branch_id:
            errors["to_rm"] = gettext(
                "%(name)s works at another branch: a book moves only to an RM of %(branch)s."
            ) % {"name": staff_name(to_rm), "branch": from_profile.branch}
        elif not to_rm.is_active:
            errors["to_rm"] = gettext("%(name)s is no longer active: choose an active RM.") % {
                "name": staff_name(to_rm)}
    if reason not in BookTransfer.Reason.values:
        errors["reason"] = gettext("Choose why the customers move.")
    if not note.strip():
        errors["note"] = gettext("Write a hand-over note: the new RM starts from it.")
    return errors


def book_transfer(
    *, actor: AbstractBaseUser, from_rm: AbstractBaseUser, to_rm: AbstractBaseUser, reason: str, note: str,
    customer_ids: list[int] | None = None, ip_address: str | None = None,
) -> BookTransfer:
    """Moves the given customers of `from_rm` (all of them with None) to `to_rm`, or nothing.

    1. Validates (book_transfer_errors) and locks the customers, in id order; a chosen customer
       who left the book meanwhile refuses the whole transfer.
    2. Ends their current RM assignments and starts the new ones (the 360° RM history keeps both).
    3. Points Customer.primary_rm at the new RM and writes the field-history rows.
    4. Hands the old RM's open work on these customers to the new RM: their open tasks (KYC
       refresh, follow-ups, churn risk, complaint actions, earlier introductions; not feedback
       tasks, which follow the product's owner) and every open complaint on them the old RM owns,
       at whatever level (a case handed down to the RM from above the branch keeps its level, as
       complaint_assign does), each with an "assigned" case event. The case's action task moves
       with the other tasks, so owner and task stay together. Left behind, the KYC task's dedupe
       key would also keep the hourly job from ever giving the new RM that review.
    5. Gives the new RM an introduction task per customer with the relationship digest.
    6. Records the transfer, notifies the new RM once, and audits each customer, each case moved
       and the transfer (with the tasks and cases moved).
    """
    errors = book_transfer_errors(actor=actor, from_rm=from_rm, to_rm=to_rm, reason=reason, note=note)
    if errors:
        raise ValidationError(errors)
    note = note.strip()
    branch_id = StaffProfile.objects.filter(user_id=from_rm.pk).values_list("branch_id", flat=True).get()
    wanted = None if customer_ids is None else sorted(set(customer_ids))
    if wanted == []:
        raise ValidationError({"customers": gettext("Choose at least one customer, or move the whole book.")})
    now = timezone.now()
    with transaction.atomic():
        # The new RM's row is locked as user_deactivate locks it: a deactivation racing this transfer
        # either waits and then sees the customers (and refuses), or wins and is seen here.
        if not list(get_user_model().objects.select_for_update().filter(pk=to_rm.pk, is_active=True).values_list("pk")):
            raise ValidationError({"to_rm": gettext("%(name)s is no longer active: choose an active RM.")
                                   % {"name": staff_name(to_rm)}})
        ids = _book_lock(from_rm_id=from_rm.pk, customer_ids=wanted)
        if not ids:
            raise ValidationError({"customers": gettext("%(name)s has no customers to move.")
                                   % {"name": staff_name(from_rm)}})
        if wanted is not None and len(ids) != len(wanted):
            missing = len(wanted) - len(ids)
            raise ValidationError({"customers": ngettext(
                "%(n)d of the chosen customers is no longer in this RM's book; reload the page and choose again.",
                "%(n)d of the chosen customers are no longer in this RM's book; reload the page and choose again.",
                missing,
            ) % {"n": missing}})
        _assignments_move(customer_ids=ids, to_rm_id=to_rm.pk, actor_id=actor.pk, at=now,
                          reason=ASSIGNMENT_REASON[reason], note=note)
        _primary_rm_set(customer_ids=ids, to_rm_id=to_rm.pk, actor_id=actor.pk, at=now)
        tasks_moved = _open_tasks_move(customer_ids=ids, from_rm_id=from_rm.pk, to_rm_id=to_rm.pk)
        complaints_moved = _open_complaints_move(customer_ids=ids, from_rm_id=from_rm.pk, to_rm_id=to_rm.pk,
                                                 actor_id=actor.pk, at=now)
        _introductions_create(customer_ids=ids, from_rm=from_rm, to_rm=to_rm, actor=actor, note=note, at=now)
        transfer = BookTransfer.objects.create(
            branch_id=branch_id, from_rm=from_rm, to_rm=to_rm, reason=reason, note=note, customers_moved=len(ids),
            transferred_by=actor, transferred_at=now,
        )
        notification_send(
            recipient=to_rm, kind=Notification.Kind.BOOK_TRANSFER, url=reverse("channels:tasks") + "?kind=introduction",
            text=ngettext(
                "%(n)d customer of %(rm)s was transferred to you; an introduction task is waiting for each.",
                "%(n)d customers of %(rm)s were transferred to you; an introduction task is waiting for each.",
                len(ids),
            ) % {"n": len(ids), "rm": staff_name(from_rm)},
        )
        AuditEvent.objects.bulk_create(
            [AuditEvent(actor_id=actor.pk, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                        object_type="customer", object_id=str(pk), ip_address=ip_address,
                        detail={"fields": ["primary_rm"], "handover_to": to_rm.pk, "book_transfer": transfer.pk})
             for pk in ids]
            + [AuditEvent(actor_id=actor.pk, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                          object_type="complaint", object_id=str(pk), ip_address=ip_address,
                          detail={"owner": [from_rm.pk, to_rm.pk], "book_transfer": transfer.pk})
               for pk in complaints_moved],
            batch_size=2000,
        )
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="book_transfer", object_id=transfer.pk, ip_address=ip_address,
                     detail={"from_rm": from_rm.pk, "to_rm": to_rm.pk, "reason": reason, "customers": len(ids),
                             "all": customer_ids is None, "tasks": tasks_moved,
                             "complaints": len(complaints_moved)})
    return transfer


def _book_lock(*, from_rm_id: int, customer_ids: list[int] | None) -> list[int]:
    """Locks the customers that move (id order, so two transfers cannot deadlock); their ids."""
    book = Customer.objects.filter(primary_rm_id=from_rm_id)
    if customer_ids is not None:
        book = book.filter(pk__in=customer_ids)
    return list(book.select_for_update().order_by("pk").values_list("pk", flat=True))


def _assignments_move(
    *, customer_ids: list[int], to_rm_id: int, actor_id: int, at: datetime.datetime, reason: str, note: str,
) -> None:
    table = quoted_table(RMAssignment)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET ended_at = %s WHERE customer_id = ANY(%s) AND ended_at IS NULL", [at, customer_ids],
        )
        cursor.execute(
            f"""INSERT INTO {table} (customer_id, rm_id, started_at, ended_at, reason, note, assigned_by_id)
                SELECT id, %s, %s, NULL, %s, %s, %s FROM unnest(%s::bigint[]) AS moved(id)""",
            [to_rm_id, at, reason, note, actor_id, customer_ids],
        )


def _primary_rm_set(*, customer_ids: list[int], to_rm_id: int, actor_id: int, at: datetime.datetime) -> None:
    """The RM column, and a field-history row per customer (a bulk UPDATE bypasses simple-history)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quoted_table(Customer)} SET primary_rm_id = %s, updated_at = %s WHERE id = ANY(%s)",
            [to_rm_id, at, customer_ids],
        )
    customer_history_write(rows_sql="SELECT unnest(%(ids)s::bigint[])", params={"ids": customer_ids},
                           reason="book transfer", history_type="~", user_id=actor_id, at=at)


def _open_tasks_move(*, customer_ids: list[int], from_rm_id: int, to_rm_id: int) -> int:
    """The old RM's open tasks on the moved customers go to the new RM (one UPDATE, through the
    partial index task_assignee_due_idx); returns how many. Feedback tasks stay: they belong to
    whoever owns the product, not to the customer's RM."""
    return Task.objects.filter(
        assignee_id=from_rm_id, status=Task.Status.OPEN, customer_id__in=customer_ids,
    ).exclude(kind=Task.Kind.FEEDBACK_RESPONSE).update(assignee_id=to_rm_id)


def _open_complaints_move(
    *, customer_ids: list[int], from_rm_id: int, to_rm_id: int, actor_id: int | None, at: datetime.datetime,
    note: str = "",
) -> list[int]:
    """Every open complaint on the moved customers that the old RM owns goes to the new RM at the
    level it is at (a case escalated away from the RM is no longer theirs and stays where it is),
    with an "assigned" event each; returns their ids. The UPDATE re-checks owner and status on a
    row the escalation task changed meanwhile, so a case escalated at the same moment is left
    alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {quoted_table(Complaint)} SET owner_id = %s, updated_at = %s
                 WHERE owner_id = %s AND status = ANY(%s) AND customer_id = ANY(%s)
                RETURNING id, level""",
            [to_rm_id, at, from_rm_id, [str(s) for s in Complaint.OPEN_STATUSES], customer_ids],
        )
        moved = sorted(cursor.fetchall())
    ComplaintEvent.objects.bulk_create(
        [ComplaintEvent(complaint_id=pk, at=at, kind=ComplaintEvent.Kind.ASSIGNED, actor_id=actor_id,
                        from_owner_id=from_rm_id, to_owner_id=to_rm_id, level=level,
                        note=note or gettext("Book transfer"))
         for pk, level in moved],
        batch_size=1000,
    )
    return [pk for pk, _level in moved]


@dataclass(frozen=True)
class Digest:
    """What the new RM needs to know about one customer at the hand-over."""

    customer_id: int
    name: str
    accounts: int
    products: list[str]
    balances: dict[str, str]
    contacts: list[dict]
    open_complaints: int


def relationship_digests(*, customer_ids: list[int]) -> list[Digest]:
    """One statement for any number of customers: active holdings with balances per currency, the
    last contacts and the open complaints count, per customer, in id order."""
    open_statuses = [str(status) for status in Complaint.OPEN_STATUSES]
    sql = f"""
        SELECT c.id, c.kind, c.first_name, c.last_name, c.legal_name,
               coalesce(h.accounts, 0), coalesce(h.products, '[]'), coalesce(b.balances, '{{}}'),
               coalesce(i.contacts, '[]'), coalesce(o.open_complaints, 0)
          FROM {quoted_table(Customer)} c
          LEFT JOIN LATERAL (
               SELECT count(DISTINCT a.id) AS accounts,
                      json_agg(DISTINCT jsonb_build_array(p.name, p.name_zh)) AS products
                 FROM {quoted_table(AccountHolder)} ah
                 JOIN {quoted_table(Account)} a ON a.id = ah.account_id AND a.status = %(active)s
                 JOIN {quoted_table(Product)} p ON p.id = a.product_id
                WHERE ah.customer_id = c.id) h ON true
          LEFT JOIN LATERAL (
               SELECT json_object_agg(currency, total) AS balances FROM (
                   SELECT a.currency, sum(a.balance)::text AS total
                     FROM {quoted_table(AccountHolder)} ah
                     JOIN {quoted_table(Account)} a ON a.id = ah.account_id AND a.status = %(active)s
                    WHERE ah.customer_id = c.id AND a.balance IS NOT NULL
                    GROUP BY a.currency) per_currency) b ON true
          LEFT JOIN LATERAL (
               SELECT json_agg(json_build_object('at', occurred_at, 'channel', channel, 'kind', kind,
                                                 'summary', summary) ORDER BY occurred_at DESC) AS contacts
                 FROM (SELECT occurred_at, channel, kind, summary FROM {quoted_table(Interaction)}
                        WHERE customer_id = c.id ORDER BY occurred_at DESC LIMIT %(contacts)s) last) i ON true
          LEFT JOIN LATERAL (
               SELECT count(*) AS open_complaints FROM {quoted_table(Complaint)}
                WHERE customer_id = c.id AND status = ANY(%(open)s)) o ON true
         WHERE c.id = ANY(%(ids)s)
         ORDER BY c.id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"active": Account.Status.ACTIVE, "contacts": DIGEST_CONTACTS, "open": open_statuses,
                             "ids": list(customer_ids)})
        rows = cursor.fetchall()
    digests = []
    for pk, kind, first, last, legal, accounts, products, balances, contacts, complaints in rows:
        products = json.loads(products) if isinstance(products, str) else products
        balances = json.loads(balances) if isinstance(balances, str) else balances
        contacts = json.loads(contacts) if isinstance(contacts, str) else contacts
        name = legal if kind == Customer.Kind.CORPORATE else person_name(given=first, family=last)
        digests.append(Digest(
            customer_id=pk, name=name, accounts=accounts,
            products=sorted(localized(english=en, chinese=zh) for en, zh in products),
            balances=dict(sorted(balances.items())), contacts=contacts, open_complaints=complaints,
        ))
    return digests


def digest_text(*, digest: Digest, from_rm: AbstractBaseUser, note: str) -> str:
    """The digest as the task's text, in the language active at the hand-over."""
    channel_labels = dict(Interaction._meta.get_field("channel").choices)
    kind_labels = dict(Interaction.Kind.choices)
    lines = [gettext("Previous RM: %(name)s") % {"name": staff_name(from_rm)}]
    if digest.accounts:
        lines.append(ngettext("Holdings: %(n)d active account (%(products)s)",
                              "Holdings: %(n)d active accounts (%(products)s)", digest.accounts)
                     % {"n": digest.accounts, "products": ", ".join(digest.products)})
        if digest.balances:
            lines.append(gettext("Balances: %(balances)s") % {
                "balances": "; ".join(money(total, currency) for currency, total in digest.balances.items())})
    else:
        lines.append(gettext("Holdings: no active account"))
    if digest.contacts:
        lines.append(gettext("Last contacts:"))
        for contact in digest.contacts:
            at = datetime.datetime.fromisoformat(contact["at"])
            lines.append(f"- {date_format(timezone.localtime(at), 'SHORT_DATE_FORMAT')} "
                         f"{channel_labels.get(contact['channel'], contact['channel'])} · "
                         f"{kind_labels.get(contact['kind'], contact['kind'])}: {contact['summary']}")
    else:
        lines.append(gettext("Last contacts: none recorded"))
    lines.append(gettext("Open complaints: %(n)d") % {"n": digest.open_complaints})
    lines.append(gettext("Hand-over note: %(note)s") % {"note": note})
    return "\n".join(lines)


def customer_handover_work_move(
    *, customer_id: int, from_rm_id: int | None, to_rm: AbstractBaseUser, actor: AbstractBaseUser | None,
    at: datetime.datetime, note: str,
) -> None:
    """A one-customer hand-over (customers.services.customer_rm_handover, the admin's) does for its
    customer what a book transfer does: the previous RM's open tasks and owned open complaints go to
    the new RM, who gets an introduction task with the relationship digest. Left behind, the KYC
    task's dedupe key kept the hourly job from ever giving the new RM that review."""
    if from_rm_id is None:
        return  # nobody's work to hand over, nobody to be introduced by
    from_rm = get_user_model().objects.get(pk=from_rm_id)
    _open_tasks_move(customer_ids=[customer_id], from_rm_id=from_rm_id, to_rm_id=to_rm.pk)
    moved = _open_complaints_move(customer_ids=[customer_id], from_rm_id=from_rm_id, to_rm_id=to_rm.pk,
                                  actor_id=getattr(actor, "pk", None), at=at, note=gettext("RM hand-over"))
    _introductions_create(customer_ids=[customer_id], from_rm=from_rm, to_rm=to_rm, actor=actor, note=note, at=at)
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_id=getattr(actor, "pk", None), action=AuditEvent.Action.CHANGE,
                   outcome=AuditEvent.Outcome.ALLOWED, object_type="complaint", object_id=str(pk),
                   detail={"owner": [from_rm_id, to_rm.pk], "handover_of": customer_id})
        for pk in moved
    )


def _introductions_create(
    *, customer_ids: list[int], from_rm: AbstractBaseUser, to_rm: AbstractBaseUser, actor: AbstractBaseUser | None,
    note: str, at: datetime.datetime,
) -> None:
    due = at + INTRODUCTION_DUE
    Task.objects.bulk_create(
        [Task(assignee=to_rm, customer_id=digest.customer_id, kind=Task.Kind.INTRODUCTION,
              title=(gettext("Introduce yourself to %(name)s") % {"name": digest.name})[:200],
              detail=digest_text(digest=digest, from_rm=from_rm, note=note), due_at=due, created_by=actor)
         for digest in relationship_digests(customer_ids=customer_ids)],
        batch_size=1000,
    )


# The RM deactivation guard (registered with crm_bank.org from channels' AppConfig.ready)

def rm_deactivation_refusal(*, user: AbstractBaseUser) -> str | None:
    """Why `user` may not be deactivated yet: they still serve customers, or still own open
    complaints (at any level: nobody else would be told to act on them)."""
    reasons = []
    count = Customer.objects.filter(primary_rm_id=user.pk).count()
    if count:
        reasons.append(ngettext(
            "%(name)s is still the RM of %(n)d customer: transfer the book to another RM first.",
            "%(name)s is still the RM of %(n)d customers: transfer the book to another RM first.",
            count,
        ) % {"name": staff_name(user), "n": count})
    cases = Complaint.objects.filter(owner_id=user.pk, status__in=Complaint.OPEN_STATUSES).count()
    if cases:
        reasons.append(ngettext(
            "%(name)s still owns %(n)d open complaint: reassign it first.",
            "%(name)s still owns %(n)d open complaints: reassign them first.",
            cases,
        ) % {"name": staff_name(user), "n": cases})
    return " ".join(reasons) or None


def rm_deactivation_guard(user: AbstractBaseUser) -> str | None:
    """crm_bank.org's deactivation-guard signature for rm_deactivation_refusal."""
    return rm_deactivation_refusal(user=user)


# The ownership-conflict guard

@dataclass(frozen=True)
class OwnershipConflict:
    """An existing customer the new record would duplicate, as the user may see it."""

    customer_id: int
    name: str
    matched_by: list[str]
    rm_name: str
    branch: str
    customer_since: object  # a date for full access, the year as text otherwise
    last_contact_at: datetime.datetime | None


MATCH_NATIONAL_ID = "national_id"
MATCH_PHONE = "phone"
MATCH_NAME_BIRTH = "name_birth_date"
CONFLICTS_SHOWN = 5


def customer_ownership_conflicts(
    *, user: AbstractBaseUser, national_id: str = "", phone: str = "", first_name: str = "", last_name: str = "",
    birth_date: datetime.date | None = None, ip_address: str | None = None,
) -> list[OwnershipConflict]:
    """Existing customers matching by national ID, or phone (E.164, as stored), or name and birth
    date: with their RM, branch, customer since and last contact. Names compare by their search
    key (customers.naming: transliterated, lower case, "first last"), so "Nováková" finds
    "Novakova" and "Wei Li" finds 李伟.

    Any staff member sees that someone is already a customer (nobody is treated as new); the date
    since is masked to the year outside the customer's branch, as on the 360° page. A look-up by
    an identifier is audited by kind, never by value.
    """
    national_id = "".join(national_id.split()).upper()
    phone = "".join(phone.split())
    key = customer_name_keys(kind=Customer.Kind.INDIVIDUAL, first_name=first_name, last_name=last_name,
                             legal_name="")[0] if first_name.strip() and last_name.strip() else ""
    arms = []
    used = []
    if national_id:
        arms.append(Customer.objects.filter(national_id=national_id))  # customer_national_id_idx
        used.append(MATCH_NATIONAL_ID)
    if phone:
        arms.append(Customer.objects.filter(phone=phone))  # customer_phone_idx
        used.append(MATCH_PHONE)
    if key and birth_date is not None:
        arms.append(Customer.objects.filter(birth_date=birth_date, name_key=key))  # customer_birth_name_idx
        used.append(MATCH_NAME_BIRTH)
    if not used:
        return []
    identifier_lookup_take(actor=user)  # RateLimited once the user's allowance is spent
    # A UNION of one indexed look-up per rule: an OR over three columns could end in a scan of
    # every customer, on every prospect form.
    ids = [arm.values("pk") for arm in arms]
    matching = ids[0].union(*ids[1:]) if len(ids) > 1 else ids[0]
    found = list(
        Customer.objects.filter(pk__in=matching).select_related("home_branch", "primary_rm")
        .order_by("pk")[:CONFLICTS_SHOWN]
    )
    profile = staff_profile_for_user(user)
    audit_record(actor=user, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="ownership_check", object_id="", ip_address=ip_address,
                 detail={"identifier_kinds": used, "matches": [c.pk for c in found]})
    conflicts = []
    for customer in found:
        full = profile is not None and customer_full_access_reason(profile=profile, customer=customer) is not None
        matched = []
        if national_id and customer.national_id == national_id:
            matched.append(MATCH_NATIONAL_ID)
        if phone and customer.phone == phone:
            matched.append(MATCH_PHONE)
        if MATCH_NAME_BIRTH in used and customer.birth_date == birth_date and customer.name_key == key:
            matched.append(MATCH_NAME_BIRTH)
        conflicts.append(OwnershipConflict(
            customer_id=customer.pk, name=customer.display_name, matched_by=matched,
            rm_name=customer.rm_name, branch=str(customer.home_branch),
            customer_since=customer.customer_since if full else masked_value("customer_since", customer.customer_since),
            last_contact_at=customer.last_contact_at,
        ))
    return conflicts


def prospect_create(
    *, actor: AbstractBaseUser, confirmed: bool = False, ip_address: str | None = None, **fields: object,
) -> tuple[Customer | None, list[OwnershipConflict]]:
    """Creates a prospect unless it looks like an existing customer and the user has not confirmed
    "create anyway": then nothing is written and the conflicts come back. The user becomes the
    prospect's RM when they are an RM."""
    cleaned = customer_fields_clean(dict(fields))
    conflicts = customer_ownership_conflicts(
        user=actor, national_id=str(cleaned.get("national_id", "")), phone=str(cleaned.get("phone", "")),
        first_name=str(cleaned.get("first_name", "")), last_name=str(cleaned.get("last_name", "")),
        birth_date=cleaned.get("birth_date"), ip_address=ip_address,
    )
    if conflicts and not confirmed:
        return None, conflicts
    profile = staff_profile_for_user(actor)
    is_rm = profile is not None and profile.role == StaffProfile.Role.RM and actor.is_active
    customer = customer_create(
        actor=actor, ip_address=ip_address, cif=_prospect_cif(), lifecycle_stage=Customer.Lifecycle.PROSPECT,
        primary_rm=actor if is_rm else None, **cleaned,
    )
    return customer, conflicts


def _prospect_cif() -> str:
    """A customer number for a prospect the core system does not know yet ("P" + a sequence)."""
    return f"P{allocate_ids(Customer, 1)[0]:011d}"

