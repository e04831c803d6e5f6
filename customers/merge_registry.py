"""The rows of other apps that point at a customer, and how a merge moves them.

customers sits below channels and campaigns in the layers and never imports them, so each of those
apps names its references here from its AppConfig.ready():

    customer_references_register(Interaction)                 # customer_id moves to the survivor
    customer_references_register(ChurnFlag, on_conflict="skip")

A merge re-points every registered row from the absorbed record to the survivor with one
`UPDATE … RETURNING id` per table and keeps the ids, so an unmerge moves back exactly those rows.
A row that would break a unique constraint on the survivor (the same campaign twice, a second
one-to-one flag) is not moved: with on_conflict="skip" it stays on the tombstone, is recorded as
kept, and is the absorbed record's again after an unmerge.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from customers.models import Customer

ON_CONFLICT_CHOICES = ("skip",)


@dataclass(frozen=True)
class CustomerReference:
    """A foreign key to Customer whose rows follow a merge."""

    model: type[models.Model]
    field_name: str = "customer"
    on_conflict: str = "skip"

    @property
    def key(self) -> str:
        """The "app_label.model" a merge records the moved ids under (":field" unless it is `customer`)."""
        label = self.model._meta.label_lower
        return label if self.field_name == "customer" else f"{label}:{self.field_name}"

    @property
    def column(self) -> str:
        return self.model._meta.get_field(self.field_name).column

    def conflict_columns(self) -> list[list[str]]:
        """For each unique rule that includes the customer column, the other columns it spans: a row
        conflicts when the survivor already has a row with the same values there."""
        field = self.model._meta.get_field(self.field_name)
        meta = self.model._meta
        sets = [[]] if field.unique else []
        together = [list(names) for names in meta.unique_together]
        together += [list(c.fields) for c in meta.constraints if isinstance(c, models.UniqueConstraint) and c.fields]
        for names in together:
            if self.field_name in names:
                sets.append([meta.get_field(name).column for name in names if name != self.field_name])
        return sets


_REFERENCES: dict[str, CustomerReference] = {}


def customer_references_register(
    model: type[models.Model], field_name: str = "customer", *, on_conflict: str = "skip"
) -> CustomerReference:
    """Registers `model.field_name` (a foreign key or one-to-one to Customer) to follow merges.

    Registering the same field again replaces the entry (ready() may run more than once in tests).
    """
    field = model._meta.get_field(field_name)
    if not field.is_relation or field.related_model is not Customer or not field.concrete:
        raise ImproperlyConfigured(f"{model._meta.label}.{field_name} is not a foreign key to Customer")
    if on_conflict not in ON_CONFLICT_CHOICES:
        raise ImproperlyConfigured(f"on_conflict must be one of {', '.join(ON_CONFLICT_CHOICES)}")
    for constraint in model._meta.constraints:
        # A conditional unique rule cannot be checked by the generic move: the owning app must say how.
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is not None \
                and field_name in (constraint.fields or ()):
            raise ImproperlyConfigured(f"{constraint.name} is conditional: move {model._meta.label} rows yourself")
    reference = CustomerReference(model, field_name, on_conflict)
    _REFERENCES[reference.key] = reference
    return reference


def customer_references() -> list[CustomerReference]:
    """The registered references, in registration order."""
    return list(_REFERENCES.values())


def customer_reference_for_key(key: str) -> CustomerReference | None:
    return _REFERENCES.get(key)


def references_move(*, reference: CustomerReference, from_id: int, to_id: int) -> tuple[list[int], list[int]]:
    """Re-points `reference`'s rows from customer `from_id` to `to_id` in one statement.

    Returns (moved ids, ids kept on `from_id` because the move would break a unique rule). Rows of
    `from_id` cannot clash with each other: they were unique with `from_id`, so they are with `to_id`.
    """
    quote = connection.ops.quote_name
    table, column = quote(reference.model._meta.db_table), quote(reference.column)
    pk = quote(reference.model._meta.pk.column)
    clashes = []
    for others in reference.conflict_columns():
        same = "".join(f" AND o.{quote(name)} = r.{quote(name)}" for name in others)
        clashes.append(f"EXISTS (SELECT 1 FROM {table} o WHERE o.{column} = %(to)s{same})")
    where = f"r.{column} = %(from)s" + (f" AND NOT ({' OR '.join(clashes)})" if clashes else "")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} r SET {column} = %(to)s WHERE {where} RETURNING r.{pk}",
                       {"from": from_id, "to": to_id})
        moved = sorted(row[0] for row in cursor.fetchall())
        kept: list[int] = []
        if clashes:
            cursor.execute(f"SELECT {pk} FROM {table} WHERE {column} = %s ORDER BY {pk}", [from_id])
            kept = [row[0] for row in cursor.fetchall()]
    return moved, kept


def rows_move_back(*, model: type[models.Model], column: str, ids: list[int], from_id: int, to_id: int) -> int:
    """Moves exactly the rows `ids` that still point at `from_id` back to `to_id`; how many moved."""
    if not ids:
        return 0
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {quote(column)} = %s"
            f" WHERE {quote(model._meta.pk.column)} = ANY(%s) AND {quote(column)} = %s",
            [to_id, ids, from_id],
        )
        return cursor.rowcount
