"""Bulk writes without the ORM's per-value compilation.

``QuerySet.bulk_create`` and ``bulk_update`` compile an expression per value
(bulk_update a CASE per object and field); for the SLA sweep, which writes a
hundred tickets and a thousand outbox rows per batch, that took longer in
Python than the database took to write them. These helpers prepare one
statement and execute it for every row. Like the ORM's bulk methods they send
no signals; unlike bulk_create they do not set primary keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections, router
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
            return _sqlite_datetime
        return connection.ops.adapt_datetimefield_value  # aware datetimes: as the ORM would send them
    return lambda value: field.get_db_prep_save(value, connection)


def _sqlite_datetime(value: Any) -> Any:
    """What Django's SQLite backend stores for an aware datetime (naive UTC text), without its checks per value."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return connections["default"].ops.adapt_datetimefield_value(value)


def _rows(objects: Sequence[Any], fields: list[Field], connection, *, adding: bool) -> list[list[Any]]:
    adapters = [_adapter(field, connection) for field in fields]
    rows = []
    for obj in objects:
        row = []
        for field, adapt in zip(fields, adapters, strict=True):
            value = field.pre_save(obj, adding) if adding else getattr(obj, field.attname)
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
    # Every column but a database-assigned id (and generated columns): a OneToOne primary key is written.
    fields = [f for f in meta.concrete_fields if not (f.primary_key and f.db_returning) and not f.generated]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif update_conflicts:
        unique = [meta.get_field(name).column for name in update_conflicts]
        updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if f.column not in unique)
        sql += f" ON CONFLICT ({', '.join(map(quote, unique))}) DO UPDATE SET {updates}"
    rows = _rows(objects, fields, connection, adding=True)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def update_many(objects: Sequence[Model], field_names: Sequence[str]) -> int:
    """Write ``field_names`` of each object to its row (by primary key); returns how many objects."""
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = _rows(objects, [*fields, meta.pk], connection, adding=False)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
