"""Reads for the gateway: which ticket a mail answers, which addresses the desk may write to; and for
the desk's own mail (notifications), the Message-IDs of a customer's mail on a ticket, which it answers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import QuerySet

from tickets.models import Ticket

from .models import CallerPhone, InboundMail, MailAddress
from .parsing import FALLBACK_DOMAIN

SUBJECT_REFERENCE = re.compile(r"(?<![A-Za-z0-9])SCP-(\d{6,9})(?![0-9])", re.IGNORECASE)


def ticket_for_message_ids(ids: Sequence[str]) -> Ticket | None:
    """The ticket of the first of ``ids`` (In-Reply-To, then References) that is a mail the gateway stored.

    The desk's own Message-IDs and the tickets' thread roots (``<scp-000042@…>``) are the
    notifications app's to read (``notifications.selectors.ticket_for_message_ids``), which
    ``support.usecases.receive_email`` asks first.
    """
    if not ids:
        return None
    stored = {
        row.message_id: row.ticket
        for row in InboundMail.objects.filter(message_id__in=list(ids), ticket__isnull=False).select_related("ticket")
    }
    for mid in ids:
        if mid in stored:
            return stored[mid]
    return None


# The outcomes of mail that went on its ticket: a new ticket, a reply, a follow-up to a closed one.
ON_TICKET = (InboundMail.Outcome.OPENED, InboundMail.Outcome.REPLIED, InboundMail.Outcome.FOLLOW_UP)


def message_ids_from(*, ticket: Ticket, sender: str, limit: int) -> list[tuple[str, datetime]]:
    """The Message-IDs of the mail ``sender`` wrote that went on ``ticket``, newest first, with when
    each arrived; at most ``limit``. The desk's next mail to them refers to them and answers the
    latest (notifications.mailthread). Ids the gateway made up for mail without one are left out:
    no client knows them. One query, on the (ticket, received_at) index.
    """
    if not sender or ticket.pk is None:
        return []
    return list(
        InboundMail.objects.filter(ticket_id=ticket.pk, sender=sender.strip().lower(), outcome__in=ON_TICKET)
        .exclude(message_id__endswith=f"@{FALLBACK_DOMAIN}>")
        .order_by("-received_at", "-id")
        .values_list("message_id", "received_at")[:limit]
    )


def ticket_for_subject(subject: str) -> Ticket | None:
    """The ticket whose reference (SCP-000042) the subject names; the subject's words alone never match."""
    match = SUBJECT_REFERENCE.search(subject)
    if match is None:
        return None
    return ticket_for_reference(f"SCP-{int(match.group(1)):06d}")


def ticket_for_reference(reference: str) -> Ticket | None:
    """The ticket of a reference the desk wrote itself (a subject's tag, a reply address's +tag)."""
    return Ticket.objects.filter(reference=reference).first()


def user_for_address(address: str) -> User | None:
    """The desk user whose sign-in address this is (usernames are normalised addresses)."""
    return User.objects.filter(username=address.strip().lower()).first() if address else None


def undeliverable_among(addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` bounced for good: the desk sends them nothing."""
    wanted = {address.strip().lower() for address in addresses if address}
    if not wanted:
        return set()
    return set(
        MailAddress.objects.filter(address__in=wanted, undeliverable_at__isnull=False).values_list("address", flat=True)
    )


def address_undeliverable(address: str) -> bool:
    return bool(undeliverable_among([address]))


def customer_for_phone(number: str) -> User | None:
    row = CallerPhone.objects.select_related("user").filter(number=number).first()
    return row.user if row else None


def inbound_list_for_ticket(ticket: Ticket) -> QuerySet[InboundMail]:
    """The mail that reached ``ticket`` or followed up on it, newest first (the console's panel)."""
    return (
        InboundMail.objects.filter(ticket=ticket)
        .union(InboundMail.objects.filter(follow_up_of=ticket))
        .order_by("-received_at")
    )
