"""Bulk writes without the ORM's per-value compilation.

``QuerySet.bulk_create`` and ``bulk_update`` compile an expression per value
(bulk_update a CASE per object and field); for the SLA sweep, which writes a
hundred tickets and a thousand outbox rows per batch, that took longer in
Python than the database took to write them. These helpers build one
statement per batch and run it for every row (SQLite), for chunks of rows or
through COPY (PostgreSQL). They are for batches: the sweep, the outbox and the
reports' facts; a single object is written with save(). Like the ORM's bulk
methods they send no signals; unlike bulk_create they do not set primary keys.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router, transaction
from django.db.models import Field, Model

# Values of these fields go to the driver as they are (str, int, bool, None).
PASS_THROUGH = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "OneToOneField",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _adapter(field: Field, connection) -> Callable[[Any], Any] | None:
    """How one field's value becomes a query parameter; None when it goes as it is."""
    kind = field.get_internal_type()
    if kind in PASS_THROUGH:
        return None
    if kind == "DateTimeField":
        if connection.vendor == "sqlite" and settings.USE_TZ:
            return partial(_sqlite_datetime, connection=connection)
        return connection.ops.adapt_datetimefield_value  # aware datetimes: as the ORM would send them
    return lambda value: field.get_db_prep_save(value, connection)


def _sqlite_datetime(value: Any, *, connection) -> Any:
    """What Django's SQLite backend stores for an aware datetime (naive UTC text), without its checks per value."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


def column_of(model: type[Model], name: str) -> str:
    """The database column of the model's concrete field ``name``."""
    return _column(_concrete_field(model, name))


def _concrete_field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):  # a relation's reverse side
        raise FieldDoesNotExist(f"{model._meta.label}.{name} has no column of its own")
    return field


def _column(field: Field) -> str:
    """A concrete field's column: these helpers write nothing else."""
    if field.column is None:
        raise FieldDoesNotExist(f"{field} has no column of its own")
    return field.column


def _rows(objects: Sequence[Any], fields: Sequence[Field], connection, *, adding: bool) -> list[list[Any]]:
    """Each object's values for ``fields``, ready for the driver; auto_now(_add) fields computed as save() does."""
    adapters = [_adapter(field, connection) for field in fields]
    computed = [
        adding and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)) for field in fields
    ]
    rows = []
    for obj in objects:
        row = []
        for field, adapt, compute in zip(fields, adapters, computed, strict=True):
            value = field.pre_save(obj, adding) if compute else getattr(obj, field.attname)
            row.append(value if adapt is None or value is None else adapt(value))
        rows.append(row)
    return rows


def insert_many(
    objects: Sequence[Any],
    *,
    model: type[Model] | None = None,
    ignore_conflicts: bool = False,
    update_conflicts: Sequence[str] = (),
) -> None:
    """INSERT one row per object: ``model`` instances, or any objects with its fields' attribute names.

    ``ignore_conflicts`` skips rows that break a unique constraint (ON CONFLICT DO
    NOTHING, on PostgreSQL and SQLite alike); ``update_conflicts`` names the unique
    fields whose conflict overwrites the existing row's other columns instead (an
    upsert). Otherwise a conflict raises IntegrityError.
    """
    if not objects:
        return
    model = model or type(objects[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    # Every column but a database-assigned id (and generated columns): a OneToOne primary key is written.
    fields = [f for f in meta.concrete_fields if not (f.primary_key and f.db_returning) and not f.generated]
    table, columns = meta.db_table, ", ".join(quote(_column(field)) for field in fields)
    conflict = ""
    if ignore_conflicts:
        conflict = " ON CONFLICT DO NOTHING"
    elif update_conflicts:
        unique = [column_of(model, name) for name in update_conflicts]
        updates = ", ".join(
            f"{quote(_column(f))} = excluded.{quote(_column(f))}" for f in fields if _column(f) not in unique
        )
        conflict = f" ON CONFLICT ({', '.join(map(quote, unique))}) DO UPDATE SET {updates}"
    rows = _rows(objects, fields, connection, adding=True)
    if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        _insert_staged(connection, table, columns, rows, conflict)
        return
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # in-process: one statement, run per row, is cheapest
            cursor.executemany(f"INSERT INTO {quote(table)} ({columns}) VALUES {row_sql}{conflict}", rows)
            return
        # Over the network: many rows per statement, not a round of parsing and planning per row.
        for chunk in _chunks(rows, len(fields)):
            values = ", ".join([row_sql] * len(chunk))
            cursor.execute(
                f"INSERT INTO {quote(table)} ({columns}) VALUES {values}{conflict}",
                [value for row in chunk for value in row],
            )


COPY_MIN_ROWS = 50


def _insert_staged(connection, table: str, columns: str, rows: list[list[Any]], conflict: str) -> None:
    """PostgreSQL, many rows: COPY them into a temporary table, then one INSERT ... SELECT with the conflict clause.

    Parsing a statement with thousands of parameters (or a round per row) cost five times what
    COPY does; the INSERT ... SELECT keeps ON CONFLICT, constraints and triggers as they are.
    The staging table lives for the connection (its name carries the column list, so a
    migration gets a new one) and is emptied after each use and at commit.
    """
    quote = connection.ops.quote_name
    stage = quote(f"stage_{table}_{zlib.crc32(columns.encode()):08x}")
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
            f"AS SELECT {columns} FROM {quote(table)} WITH NO DATA"
        )
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {stage}{conflict}")
        cursor.execute(f"TRUNCATE {stage}")


def _chunks(rows: list[list[Any]], width: int) -> list[list[list[Any]]]:
    """Rows grouped for multi-row statements: at most 1,000 rows and under PostgreSQL's 65,535 parameters."""
    size = max(1, min(1000, 65535 // max(1, width)))
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def update_many(objects: Sequence[Model], field_names: Sequence[str]) -> int:
    """Write ``field_names`` of each object to its row (by primary key); returns how many objects."""
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    fields = [_concrete_field(model, name) for name in field_names]
    columns = [_column(field) for field in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(_column(meta.pk))
    rows = _rows(objects, [*fields, meta.pk], connection, adding=False)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", rows)
            return len(rows)
        # UPDATE ... FROM (VALUES ...): one statement per chunk. A VALUES column of NULLs only is
        # text to PostgreSQL, hence the casts to each column's own type.
        names = [f"c{n}" for n in range(len(fields))]
        assignments = ", ".join(
            f"{quote(column)} = v.{name}::{field.cast_db_type(connection)}"
            for field, column, name in zip(fields, columns, names, strict=True)
        )
        row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        for chunk in _chunks(rows, len(fields) + 1):
            values = ", ".join([row_sql] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v({', '.join(names)}, pk) "
                f"WHERE {table}.{pk} = v.pk",
                [value for row in chunk for value in row],
            )
    return len(rows)
