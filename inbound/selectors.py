"""Reads for the gateway: which ticket a mail answers, which addresses the desk may write to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet

from tickets.models import Ticket

from .models import CallerPhone, InboundMail, MailAddress

SUBJECT_REFERENCE = re.compile(r"(?<![A-Za-z0-9])SCP-(\d{6,9})(?![0-9])", re.IGNORECASE)


def _thread_id_reference(message_id: str) -> str | None:
    """The ticket reference in the desk's own thread id, ``<scp-000042@desk-domain>`` (notifications.mailthread)."""
    local, _, domain = message_id.strip("<>").partition("@")
    if domain.lower() != settings.NOTIFY_MESSAGE_ID_DOMAIN.lower():
        return None
    match = re.fullmatch(r"scp-(\d{6,9})", local, re.IGNORECASE)
    return f"SCP-{match.group(1)}" if match else None


def ticket_for_message_ids(ids: Sequence[str]) -> Ticket | None:
    """The ticket the first of ``ids`` that the desk knows belongs to (In-Reply-To, then References).

    It knows the thread id every desk mail carries in In-Reply-To/References
    (``<scp-000042@NOTIFY_MESSAGE_ID_DOMAIN>``) and the Message-IDs of the mail the gateway stored;
    ``support.usecases.receive_email`` asks the notifications app's ``ticket_for_message_ids``
    (the Message-IDs of each mail the desk sent) first.
    """
    if not ids:
        return None
    references = {mid: ref for mid in ids if (ref := _thread_id_reference(mid))}
    by_reference = (
        {t.reference: t for t in Ticket.objects.filter(reference__in=set(references.values()))} if references else {}
    )
    stored = {
        row.message_id: row.ticket
        for row in InboundMail.objects.filter(message_id__in=list(ids), ticket__isnull=False).select_related("ticket")
    }
    for mid in ids:
        if mid in references and references[mid] in by_reference:
            return by_reference[references[mid]]
        if mid in stored:
            return stored[mid]
    return None


def ticket_for_subject(subject: str) -> Ticket | None:
    """The ticket whose reference (SCP-000042) the subject names; the subject's words alone never match."""
    match = SUBJECT_REFERENCE.search(subject)
    if match is None:
        return None
    return Ticket.objects.filter(reference=f"SCP-{int(match.group(1)):06d}").first()


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
