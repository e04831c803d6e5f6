"""Interactions that channel systems send (the API, CSV files) onto the timeline: one path for both.

Each item gets its own outcome: created, duplicate (the same `source_id` and body again: the
original, nothing written), conflict (the same `source_id` with another body), held (a customer
number the bank does not know: kept in the holding list) or error (a message per field).

Built for batches: a batch's customer numbers, usernames and product codes are resolved in one
query each, its known `source_id`s in one more, and its good items stored with one
`interactions_store` call in one transaction, whatever the batch size. Retries racing each other
meet on the unique (system, source_id) constraints: the loser's clashing items become duplicates or
conflicts, never a server error, and its other items are still stored.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from channels.models import ChannelSystem, Complaint, HeldInteraction, Interaction
from channels.services.interactions import (
    NewInteraction,
    campaign_code_problems,
    interaction_errors,
    interactions_store,
    payload_hash,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import quoted_table
from customers.models import Customer, Product

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("customer", "channel", "kind", "direction", "occurred_at", "summary", "source_id")
OPTIONAL_FIELDS = ("outcome", "campaign", "staff", "product", "category", "severity", "source_system")
ITEM_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
# Identifiers a system may send as JSON numbers; everything else is text.
_IDENTIFIER_FIELDS = frozenset({"customer", "source_id", "campaign", "staff", "product"})
# Passed to the after-store hooks (the complaint case) through NewInteraction.extra.
_EXTRA_FIELDS = ("category", "severity")
BATCH_MAX = 1_000
CUSTOMER_REF_MAX = HeldInteraction._meta.get_field("customer_ref").max_length


class Status:
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    HELD = "held"
    ERROR = "error"
    ALL = (CREATED, DUPLICATE, CONFLICT, HELD, ERROR)


@dataclass
class ItemResult:
    """What became of one item; `id` is the interaction (created, duplicate, conflict's original)."""

    index: int
    source_id: str = ""
    status: str = ""
    id: int | None = None
    held_id: int | None = None
    held_status: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    # An earlier item of the same batch with the same source_id and body: this one shares its fate.
    same_as: ItemResult | None = None

    def as_dict(self) -> dict:
        data: dict = {"index": self.index, "source_id": self.source_id, "status": self.status}
        if self.id is not None:
            data["id"] = self.id
        if self.held_id is not None:
            data["held_id"] = self.held_id
            data["held_status"] = self.held_status
        if self.errors:
            data["errors"] = self.errors
        return data


@dataclass
class IngestReport:
    results: list[ItemResult]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(Status.ALL, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts


@dataclass
class _Item:
    """An item whose own fields are valid; its references are resolved batch-wide."""

    result: ItemResult
    raw: dict
    cif: str
    staff: str
    product: str
    new: NewInteraction
    canonical: dict


def interactions_ingest(
    *, system: ChannelSystem, items: Sequence[object], object_type: str = "interaction_batch",
    action: str = AuditEvent.Action.CREATE, ip_address: str | None = None, audit_detail: dict | None = None,
) -> IngestReport:
    """Stores what is good in `items` (dicts as a system sent them) and says what became of each.

    1. Each item's own fields are checked (messages per field).
    2. Customer numbers, usernames and product codes are resolved, one query each.
    3. Items whose source_id the system used before are duplicates or conflicts; a repeat within the
       batch shares the first one's fate.
    4. In one transaction: unknown customers' items are held, the rest stored by one
       interactions_store call (savepoints keep a clash or a failing item from taking the others
       down), and one audit row records the request.
    """
    now = timezone.now()
    results = [ItemResult(index=index) for index in range(len(items))]
    parsed = [_item_parse(raw, result=result, system=system, now=now)
              for raw, result in zip(items, results, strict=True)]
    candidates = _references_resolve([item for item in parsed if item is not None])
    fresh = _replays_sort(system=system, items=candidates)
    to_store = [item for item in fresh if item.new.customer_id]
    to_hold = [item for item in fresh if not item.new.customer_id]
    with transaction.atomic():
        _items_hold(system=system, items=to_hold)
        _items_store(system=system, items=to_store)
        for result in results:
            if result.same_as is not None:
                _result_copy(result, result.same_as)
        report = IngestReport(results=results)
        detail = {"system": system.code, "items": len(items), **report.counts(), **(audit_detail or {})}
        single = object_type == "interaction" and len(results) == 1
        audit_record(
            actor=None, action=action, outcome=AuditEvent.Outcome.ALLOWED, object_type=object_type,
            object_id=(results[0].id or results[0].held_id or "") if single else system.pk,
            ip_address=ip_address, detail=detail,
        )
    return report


def _result_copy(result: ItemResult, first: ItemResult) -> None:
    result.id, result.held_id, result.held_status = first.id, first.held_id, first.held_status
    if first.status in (Status.CREATED, Status.DUPLICATE):
        result.status = Status.DUPLICATE
    else:  # held, or the first could not be stored after all
        result.status, result.errors = first.status, dict(first.errors)


def _text(raw: dict, name: str, errors: dict[str, str]) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if name in _IDENTIFIER_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        errors[name] = _("Must be a string.")
        return ""
    if "\x00" in value:  # valid JSON ("\u0000"), but PostgreSQL text cannot hold it
        errors[name] = _("Must not contain NUL characters.")
        return ""
    return value.strip() if name in _IDENTIFIER_FIELDS else value


def _item_parse(raw: object, *, result: ItemResult, system: ChannelSystem, now: datetime.datetime) -> _Item | None:
    """The item's own fields checked (`result` an error when any is wrong); None when it is no object."""
    if not isinstance(raw, dict):
        result.status, result.errors = Status.ERROR, {"item": _("Each item must be a JSON object.")}
        return None
    errors: dict[str, str] = {name: _("Unknown field.") for name in raw if name not in ITEM_FIELDS}
    values = {name: _text(raw, name, errors) for name in ITEM_FIELDS}
    result.source_id = values["source_id"]
    for name in REQUIRED_FIELDS:
        if not values[name].strip() and name not in errors:
            errors[name] = _("This field is required.")
    if values["source_system"] and values["source_system"] != system.code:
        errors["source_system"] = _(
            "Items are stored as sent by this token's system: leave this out or give “%(code)s”."
        ) % {"code": system.code}
    try:  # None when unreadable: interaction_errors then explains the expected form
        occurred_at = parse_datetime(values["occurred_at"]) if values["occurred_at"] else None
    except ValueError:  # well formed but no such moment (month 13)
        occurred_at = None
    if len(values["customer"]) > CUSTOMER_REF_MAX:
        errors["customer"] = _("At most %(n)d characters.") % {"n": CUSTOMER_REF_MAX}
    if values["category"] and values["category"] not in Complaint.Category.values:
        errors["category"] = _("Unknown complaint category “%(value)s”.") % {"value": values["category"]}
    if values["severity"] and values["severity"] not in Complaint.Severity.values:
        errors["severity"] = _("Unknown severity “%(value)s”.") % {"value": values["severity"]}
    new = NewInteraction(
        customer_id=0, channel=values["channel"], kind=values["kind"], direction=values["direction"],
        occurred_at=occurred_at, summary=values["summary"], outcome=values["outcome"],
        campaign_code=values["campaign"], source_system_id=system.pk, source_id=values["source_id"],
        extra={name: values[name] for name in _EXTRA_FIELDS if values[name]},
    )
    for name, message in interaction_errors(new, now=now).items():
        errors.setdefault(name, message)
    canonical = {name: values[name] for name in ITEM_FIELDS if values[name] and name != "source_system"}
    if errors:
        # Still returned: its staff and product are checked too, so one answer names every problem.
        result.status, result.errors = Status.ERROR, errors
    else:
        canonical["occurred_at"] = occurred_at.astimezone(datetime.UTC).isoformat()
        new.payload_hash = payload_hash(canonical)
    return _Item(result=result, raw=raw, cif=values["customer"], staff=values["staff"], product=values["product"],
                 new=new, canonical=canonical)


def _references_resolve(items: list[_Item]) -> list[_Item]:
    """Customer ids (0: unknown, to be held), staff and products filled in; returns the items without
    errors (an unknown member of staff or product is one, and so is a campaign a check refuses)."""
    if not items:
        return []
    # The home branch comes with the id, so storing needs no second look-up of the same customers.
    # A merged-away customer number lands on the record that absorbed it (two merges deep).
    table = quoted_table(Customer)
    customers = {cif: (pk, branch_id) for cif, pk, branch_id in _rows(
        f"""SELECT c.cif, coalesce(s.merged_into_id, s.id, c.id),
                   CASE WHEN s.merged_into_id IS NOT NULL THEN t.home_branch_id
                        WHEN s.id IS NOT NULL THEN s.home_branch_id ELSE c.home_branch_id END
            FROM {table} c LEFT JOIN {table} s ON s.id = c.merged_into_id
                 LEFT JOIN {table} t ON t.id = s.merged_into_id
            WHERE c.cif = ANY(%s)""",
        [list({item.cif for item in items})])}
    usernames = {item.staff for item in items if item.staff}
    staff = {
        username: (pk, branch_id)
        for username, pk, branch_id in get_user_model().objects.filter(
            username__in=usernames, is_active=True, staff_profile__isnull=False,
        ).values_list("username", "pk", "staff_profile__branch_id")
    } if usernames else {}
    codes = {item.product for item in items if item.product}
    products = dict(Product.objects.filter(code__in=codes).values_list("code", "pk")) if codes else {}
    campaigns = campaign_code_problems({item.new.campaign_code for item in items if item.new.campaign_code})
    resolved = []
    for item in items:
        errors = item.result.errors
        if item.new.campaign_code in campaigns:
            errors.setdefault("campaign", campaigns[item.new.campaign_code])
        if item.staff:
            if item.staff in staff:
                item.new.staff_id, item.new.branch_id = staff[item.staff]
            else:
                errors["staff"] = _("No active member of staff with this username.")
        if item.product:
            if item.product in products:
                item.new.product_id = products[item.product]
            else:
                errors["product"] = _("No product with this code.")
        if errors:
            item.result.status = Status.ERROR
            continue
        item.new.customer_id, home_branch_id = customers.get(item.cif, (0, None))
        if item.new.branch_id is None:  # no member of staff's branch: the customer's home branch
            item.new.branch_id = home_branch_id
        resolved.append(item)
    return resolved


def _replays_sort(*, system: ChannelSystem, items: list[_Item]) -> list[_Item]:
    """Marks items the system sent before (stored or held) and repeats within the batch; returns the rest."""
    if not items:
        return []
    source_ids = {item.new.source_id for item in items}
    stored = _stored_find(system=system, source_ids=source_ids)
    held = {
        source_id: (pk, digest, status) for source_id, pk, digest, status in _rows(
            f"""SELECT source_id, id, payload_hash, status FROM {quoted_table(HeldInteraction)}
                WHERE system_id = %s AND source_id = ANY(%s)""",
            [system.pk, list(source_ids.difference(stored))],
        )
    } if len(stored) < len(source_ids) else {}
    firsts: dict[str, _Item] = {}
    fresh = []
    for item in items:
        result, source_id, digest = item.result, item.new.source_id, item.new.payload_hash
        if source_id in stored:
            result.id = stored[source_id][0]
            result.status = Status.DUPLICATE if stored[source_id][1] == digest else Status.CONFLICT
        elif source_id in held:
            result.held_id, _digest, result.held_status = held[source_id]
            result.status = Status.HELD if _digest == digest else Status.CONFLICT
        elif source_id in firsts:
            first = firsts[source_id]
            if first.new.payload_hash == digest:
                result.same_as = first.result
            else:
                result.status = Status.CONFLICT
        else:
            firsts[source_id] = item
            fresh.append(item)
            continue
        if result.status == Status.CONFLICT:
            result.errors = {"source_id": _("This source_id was already used for a different item.")}
    return fresh


def _rows(sql: str, params: list) -> list[tuple]:
    # A batch's look-ups pass their keys as one array (= ANY), not a thousand IN parameters.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _stored_find(*, system: ChannelSystem, source_ids: set[str]) -> dict[str, tuple[int, str]]:
    """source_id → (interaction id, payload hash) of what the system already stored."""
    # "NOT source_id = ''" repeats the condition of interaction_source_unique, so the index serves.
    return {
        source_id: (pk, digest) for source_id, pk, digest in _rows(
            f"""SELECT source_id, id, payload_hash FROM {quoted_table(Interaction)}
                WHERE source_system_id = %s AND source_id = ANY(%s) AND NOT source_id = ''""",
            [system.pk, list(source_ids)],
        )
    }


def _items_hold(*, system: ChannelSystem, items: list[_Item]) -> None:
    """Keeps unknown customers' items; a racing retry's copy is not held twice."""
    if not items:
        return
    items = sorted(items, key=lambda item: item.new.source_id)  # one lock order for racing batches
    HeldInteraction.objects.bulk_create(
        [HeldInteraction(system=system, source_id=item.new.source_id, customer_ref=item.cif, payload=item.raw,
                         payload_hash=item.new.payload_hash) for item in items],
        ignore_conflicts=True,
    )
    rows = {
        source_id: (pk, digest, status) for source_id, pk, digest, status in HeldInteraction.objects.filter(
            system=system, source_id__in=[item.new.source_id for item in items],
        ).values_list("source_id", "pk", "payload_hash", "status")
    }
    for item in items:
        result = item.result
        result.held_id, digest, result.held_status = rows[item.new.source_id]
        if digest == item.new.payload_hash:
            result.status = Status.HELD
        else:
            result.status = Status.CONFLICT
            result.errors = {"source_id": _("This source_id was already used for a different item.")}


def _items_store(*, system: ChannelSystem, items: list[_Item]) -> None:
    """All good items in one interactions_store call, in a savepoint. A clash with a racing request
    marks the clashing items and retries the rest; any other failure falls back to one savepoint
    per item, so only the failing items fail. Each attempt stores fresh copies of the items: what
    a rolled-back attempt filled in (a branch, a case's id) must not reach the next one."""
    pending = sorted(items, key=lambda item: item.new.source_id)  # one lock order for racing batches
    for _attempt in range(3):
        if not pending:
            return
        try:
            with transaction.atomic():
                rows = interactions_store(items=[replace(item.new) for item in pending])
        except IntegrityError:
            still = _clashes_mark(system=system, items=pending)
            if len(still) == len(pending):
                break  # not a source_id clash: find the failing items one by one
            pending = still
            continue
        except (DatabaseError, ValidationError):
            logger.warning("Storing a batch of %d failed; storing its items one by one", len(pending), exc_info=True)
            break
        for item, row in zip(pending, rows, strict=True):
            item.result.status, item.result.id = Status.CREATED, row.pk
        return
    for item in pending:
        _item_store_alone(system=system, item=item)


def _item_store_alone(*, system: ChannelSystem, item: _Item) -> None:
    try:
        with transaction.atomic():
            (row,) = interactions_store(items=[replace(item.new)])
    except (DatabaseError, ValidationError) as error:
        if isinstance(error, IntegrityError) and not _clashes_mark(system=system, items=[item]):
            return
        item.result.status = Status.ERROR
        if isinstance(error, ValidationError):  # a hook refused it (a complaint nobody can take…)
            item.result.errors = {"item": " ".join(error.messages)}
            return
        logger.warning("Item %s of system %s could not be stored", item.new.source_id, system.code, exc_info=True)
        item.result.errors = {"item": _("The item could not be stored: send it again later or tell the bank.")}
        return
    item.result.status, item.result.id = Status.CREATED, row.pk


def _clashes_mark(*, system: ChannelSystem, items: list[_Item]) -> list[_Item]:
    """Items a racing request stored meanwhile become duplicates or conflicts; returns the others."""
    stored = _stored_find(system=system, source_ids={item.new.source_id for item in items})
    others = []
    for item in items:
        if item.new.source_id not in stored:
            others.append(item)
            continue
        item.result.id, digest = stored[item.new.source_id]
        if digest == item.new.payload_hash:
            item.result.status = Status.DUPLICATE
        else:
            item.result.status = Status.CONFLICT
            item.result.errors = {"source_id": _("This source_id was already used for a different item.")}
    return others


def held_item_build(*, held: HeldInteraction, cif: str) -> NewInteraction:
    """The held item as an interaction of customer `cif`, checked as on arrival. Raises
    ValidationError with a message per field (the customer number under "customer")."""
    customer_id = Customer.objects.filter(cif=cif.strip()).values_list("pk", flat=True).first()
    if customer_id is None:
        raise ValidationError({"customer": _("No customer with this number.")})
    result = ItemResult(index=0)
    item = _item_parse(held.payload, result=result, system=held.system, now=timezone.now())
    resolved = _references_resolve([item]) if item is not None else []
    if not resolved:
        raise ValidationError(result.errors)
    new = resolved[0].new
    # The hash it arrived with: a replay of the original post is then a duplicate of this interaction.
    new.customer_id, new.payload_hash = customer_id, held.payload_hash
    return new
