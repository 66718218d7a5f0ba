"""Bulk loading for demo and load data (``seed_demo --tickets``, ``make bench``).

Rows arrive fully formed, with their own timestamps, and go in with a few
INSERTs per batch. No ticket_changed signal is sent; the database constraints
still apply. Never used for real tickets: those go through support.usecases.file_ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from itertools import islice

from django.db import transaction

from .models import Message, Ticket, TicketEvent


@dataclass(frozen=True)
class BulkMessage:
    author_id: int
    body: str
    created_at: datetime
    by_agent: bool = False
    internal: bool = False


@dataclass(frozen=True)
class BulkEvent:
    kind: str
    at: datetime
    actor_id: int | None = None
    field: str = ""
    old_value: str = ""
    new_value: str = ""
    internal: bool = False


@dataclass
class BulkTicket:
    ticket: Ticket  # unsaved, every field set
    messages: list[BulkMessage] = dc_field(default_factory=list)
    events: list[BulkEvent] = dc_field(default_factory=list)


def _batched(items: Iterable[BulkTicket], size: int) -> Iterator[list[BulkTicket]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def tickets_bulk_load(
    *,
    tickets: Iterable[BulkTicket],
    batch_size: int = 2000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Insert prepared tickets, their messages and timelines, one transaction per batch.

    The database derives each reference from its primary key. ``on_batch``
    hears how many tickets each committed batch held. Returns the number inserted.
    """
    total = 0
    for batch in _batched(tickets, batch_size):
        with transaction.atomic():
            rows = Ticket.objects.bulk_create([item.ticket for item in batch])
            Message.objects.bulk_create(
                [
                    Message(
                        ticket_id=row.pk,
                        author_id=message.author_id,
                        body=message.body,
                        internal=message.internal,
                        by_agent=message.by_agent,
                        created_at=message.created_at,
                    )
                    for row, item in zip(rows, batch, strict=True)
                    for message in item.messages
                ]
            )
            TicketEvent.objects.bulk_create(
                [
                    TicketEvent(
                        ticket_id=row.pk,
                        actor_id=event.actor_id,
                        kind=event.kind,
                        field=event.field,
                        old_value=event.old_value[:200],
                        new_value=event.new_value[:200],
                        internal=event.internal,
                        at=event.at,
                    )
                    for row, item in zip(rows, batch, strict=True)
                    for event in item.events
                ]
            )
        total += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
    return total
