"""Model instances, with their related rows, from SQL written once: for the look-ups every request
makes (the signed-in user, the customer a page is about).

The ORM compiles a select_related query anew on every call: for the four-model user look-up that
was half a millisecond of a request that renders nothing. A `JoinedRead` builds the same SELECT
once from the models' own columns and turns each row into the instances the ORM would build —
`Model.from_db`, the fields' database converters (JSON and the like), related objects cached
where select_related caches them, so no attribute access queries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db import connection, models

from crm_bank.bulk import quoted_table
from crm_bank.prepared import prepared_cursor


@dataclass(frozen=True)
class Join:
    """A model LEFT JOINed as `alias` ON `on` (SQL over the aliases), cached on the instance of
    `parent` (an alias) under the relation `field` — a foreign key or one-to-one field of the parent's
    model, or the name of a reverse one-to-one relation to it. The `deferred` fields (attnames) are not
    read: deferred on the instance as the ORM's `defer()` leaves them, loaded if ever asked for."""

    model: type[models.Model]
    alias: str
    on: str
    parent: str
    field: str
    deferred: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Part:
    """Where one model's columns sit in the row, worked out once per JoinedRead."""

    alias: str
    model: type[models.Model]
    start: int
    stop: int
    pk_at: int  # the row's index of the model's primary key
    attnames: list[str]
    conversions: list[tuple]  # (index in the slice, column expression, converters), converted columns only


class JoinedRead:
    """One row of `model` (alias `alias`) by `where` (SQL with %s parameters), with `joins`."""

    def __init__(self, model: type[models.Model], alias: str, joins: tuple[Join, ...], where: str) -> None:
        self.model, self.alias, self.joins, self.where = model, alias, joins, where

    @cached_property
    def _plan(self) -> tuple[str, list[_Part]]:
        parts = [(self.alias, self.model, ()), *((join.alias, join.model, join.deferred) for join in self.joins)]
        columns, slices = [], []
        for alias, model, deferred in parts:
            fields = [field for field in model._meta.concrete_fields if field.attname not in deferred]
            start = len(columns)
            columns += [f"{alias}.{connection.ops.quote_name(field.column)}" for field in fields]
            conversions = [(index, *_converters(field)) for index, field in enumerate(fields)]
            slices.append(_Part(alias, model, start, len(columns), start + fields.index(model._meta.pk),
                                [field.attname for field in fields], [c for c in conversions if c[2]]))
        sql = (
            f"SELECT {', '.join(columns)} FROM {quoted_table(self.model)} {self.alias}"
            + "".join(f" LEFT JOIN {quoted_table(join.model)} {join.alias} ON {join.on}" for join in self.joins)
            + f" WHERE {self.where}"
        )
        return sql, slices

    def get(self, params: list) -> models.Model | None:
        """The instance of the first row, its joins cached on it (None where a join found no row);
        None when no row matches."""
        sql, parts = self._plan
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instances = {part.alias: _instance(part, row) for part in parts}
        for join in self.joins:
            parent, child = instances[join.parent], instances[join.alias]
            if parent is not None:
                _cache_related(parent, join.field, child)
        return instances[self.alias]


def _converters(field: models.Field) -> tuple[models.Expression, list]:
    """What the ORM's compiler applies to this column's values (the backend's converters, then the
    field's, e.g. JSON), with the column expression they are given."""
    column = field.get_col(field.model._meta.db_table)
    return column, [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]


def _instance(part: _Part, row: tuple) -> models.Model | None:
    if row[part.pk_at] is None:  # a LEFT JOIN that found no row
        return None
    values = list(row[part.start:part.stop])
    for index, column, converters in part.conversions:
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return part.model.from_db(connection.alias, part.attnames, values)


def _cache_related(parent: models.Model, name: str, child: models.Model | None) -> None:
    """Caches `child` as parent.<name> the way select_related does, both ways for one-to-ones."""
    relation = parent._meta.get_field(name)
    if relation.concrete:  # a foreign key or one-to-one on the parent
        relation.set_cached_value(parent, child)
        if child is not None and relation.one_to_one:
            relation.remote_field.set_cached_value(child, parent)
    else:  # a reverse one-to-one: None makes the accessor raise DoesNotExist, as the ORM's does
        relation.set_cached_value(parent, child)
        if child is not None:
            relation.field.set_cached_value(child, parent)
