"""Growing a PostgreSQL bench desk past what the bulk loader writes in reasonable time.

The bulk loader (tickets.bulk, the one ``seed_demo --tickets`` uses) builds every ticket
in Python: about a thousand a second on two busy cores, so a million take most of
twenty minutes. Past a limit the benches copy rows instead, in SQL: each copied
ticket keeps every column of its source (times, status, priority, deadlines) under
a new id, and its messages and timeline come along, so the thread lengths and the
distributions the queue and the reports read stay those of the loaded desk.
References and the queue rank are derived by the database as the copies go in.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import Model

from tickets.models import Message, Ticket, TicketEvent

BATCH = 200_000


def _columns(model: type[Model], *, skip: tuple[str, ...] = ()) -> list[str]:
    """The model's stored columns that an INSERT may set: no primary key, no generated column."""
    return [
        field.column
        for field in model._meta.concrete_fields
        if field.column
        and not field.primary_key
        and not getattr(field, "generated", False)
        and field.column not in skip
    ]


def tickets_copy(*, tickets: int, exclude_requester_id: int | None = None, write: Callable[[str], object]) -> int:
    """PostgreSQL only: reach ``tickets`` tickets by copying the oldest ones with their messages and events.

    Copies of ``exclude_requester_id``'s tickets are not made (the bench customer keeps the
    thread count its own benchmark expects). One transaction per batch of BATCH tickets.
    Returns the number of tickets added (0 on other databases or an empty desk).
    """
    have = Ticket.objects.count()
    if connection.vendor != "postgresql" or have == 0 or have >= tickets:
        return 0
    q = connection.ops.quote_name
    table = {model: q(model._meta.db_table) for model in (Ticket, Message, TicketEvent)}
    ticket_columns = [q(c) for c in _columns(Ticket)]
    child_columns = {model: [q(c) for c in _columns(model, skip=("ticket_id",))] for model in (Message, TicketEvent)}
    started, added = time.perf_counter(), 0
    while have < tickets:
        batch = min(tickets - have, BATCH)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT max(id) FROM {table[Ticket]}")
            (offset,) = cursor.fetchone()
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_copy_source AS "
                f"SELECT id FROM {table[Ticket]} WHERE requester_id IS DISTINCT FROM %s ORDER BY id LIMIT %s",
                [exclude_requester_id, batch],
            )
            cursor.execute(
                f"INSERT INTO {table[Ticket]} (id, {', '.join(ticket_columns)}) "
                f"SELECT t.id + %s, {', '.join('t.' + c for c in ticket_columns)} "
                f"FROM {table[Ticket]} t JOIN bench_copy_source s ON s.id = t.id",
                [offset],
            )
            copied = cursor.rowcount
            for model in (Message, TicketEvent):
                columns = child_columns[model]
                cursor.execute(
                    f"INSERT INTO {table[model]} (ticket_id, {', '.join(columns)}) "
                    f"SELECT r.ticket_id + %s, {', '.join('r.' + c for c in columns)} "
                    f"FROM {table[model]} r JOIN bench_copy_source s ON s.id = r.ticket_id",
                    [offset],
                )
            cursor.execute("DROP TABLE bench_copy_source")
            # Rows inserted with explicit ids leave the identity behind: move it past them.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table[Ticket]}))",
                [Ticket._meta.db_table],
            )
        if not copied:
            break
        have += copied
        added += copied
    write(f"Copied {added} tickets with their messages and timelines in SQL in {time.perf_counter() - started:.1f} s.")
    return added
