"""How a ticket's mail hangs together in the customer's mail client, and finds its way back.

- Every mail has its own Message-ID on the desk's domain (``NOTIFY_MESSAGE_ID_DOMAIN``),
  stored on its outbox row before it is sent, so a resend carries the same one.
- Every mail about a ticket refers to the ticket's root id ``<scp-000042@domain>``
  (``References``), then to that recipient's conversation about it, oldest first: the
  mail the desk sent them and the mail they sent the desk (inbound keeps its Message-IDs),
  up to the message the new mail answers, which ends the list and is its ``In-Reply-To``:
  the latest mail they wrote on the ticket, else the desk's latest mail to them. So an
  agent's reply to a customer's email sits under that email in their client, as RFC 5322
  (3.6.4) has it: the parent's thread, then the parent. Clients that thread by headers
  (Thunderbird, Apple Mail, Outlook) and by subject and ids (Gmail) see one conversation.
  Bounded as clients bound it: the root and the last MAX_REFERENCES - 1 ids.
- The subject carries the reference, ``[SCP-000042]``.
- ``Reply-To`` is the desk's reply address with the reference as a +tag
  (``support+scp-000042@sofacoverpro.com``).

The inbound side reads the same facts back: ``selectors.ticket_for_message_ids`` and
``reference_from_address``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings

from inbound import selectors as inbound_selectors
from tickets.models import Ticket

from .models import Notification

# References keeps the root and this many of the recipient's latest mails about the ticket.
MAX_REFERENCES = 20
REFERENCE = re.compile(r"scp-[0-9]{6,12}", re.IGNORECASE)


def root_id(ticket: Ticket) -> str:
    """The ticket's thread root: never sent as a mail of its own, referred to by every one."""
    return f"<{(ticket.reference or '').lower()}@{settings.NOTIFY_MESSAGE_ID_DOMAIN}>"


def reference_from_root(message_id: str) -> str | None:
    """``SCP-000042`` for the root id ``<scp-000042@our-domain>``; None for anything else."""
    local, _, domain = message_id.strip().strip("<>").partition("@")
    if domain.lower() != settings.NOTIFY_MESSAGE_ID_DOMAIN.lower() or not REFERENCE.fullmatch(local):
        return None
    return local.upper()


def subject_for(ticket: Ticket, subject: str) -> str:
    """The subject with ``[SCP-000042]`` in front, unless it names the ticket already."""
    subject = " ".join(subject.split())
    reference = ticket.reference or ""
    if not reference or reference.lower() in subject.lower():
        return subject
    return f"[{reference}] {subject}"


def reply_address(ticket: Ticket) -> str:
    """Where a reply to the ticket's mail goes: the reply address with the reference as a +tag."""
    local, _, domain = settings.NOTIFY_REPLY_ADDRESS.partition("@")
    return f"{local}+{(ticket.reference or '').lower()}@{domain}" if ticket.reference else settings.NOTIFY_REPLY_ADDRESS


def reference_from_address(address: str) -> str | None:
    """``SCP-000042`` for ``support+scp-000042@…`` at the reply address's domain; None otherwise."""
    local, _, domain = address.strip().lower().partition("@")
    our_local, _, our_domain = settings.NOTIFY_REPLY_ADDRESS.lower().partition("@")
    base, _, tag = local.partition("+")
    if domain != our_domain or base != our_local or not REFERENCE.fullmatch(tag):
        return None
    return tag.upper()


def references_for(ticket: Ticket, recipient: str) -> list[str]:
    """The thread a new mail to ``recipient`` about ``ticket`` follows (References; its last id is
    In-Reply-To): the root, then what the desk sent them and what they wrote to the desk about it
    (two queries)."""
    sent = list(
        Notification.objects.filter(ticket_id=ticket.pk, recipient=recipient, channel=Notification.Channel.EMAIL)
        .exclude(message_id="")
        .order_by("-created_at", "-id")
        .values_list("message_id", "created_at")[: MAX_REFERENCES - 1]
    )
    received = inbound_selectors.message_ids_from(ticket=ticket, sender=recipient, limit=MAX_REFERENCES - 1)
    return references_from(root_id(ticket), sent=sent[::-1], received=received[::-1])


def references_from(
    root: str, *, sent: Sequence[tuple[str, datetime]], received: Sequence[tuple[str, datetime]]
) -> list[str]:
    """References for the next mail to one recipient, from the (Message-ID, at) of the mail the desk
    sent them and of the mail they wrote to the desk, each oldest first.

    The conversation in time order (a mail they wrote comes before the desk's mail of the same
    moment, which answers it), up to the one the new mail answers: the latest they wrote, else
    the desk's latest. The desk's mail after it (an acknowledgment, an earlier answer to the same
    message) is not the new mail's ancestor and is left out. Then capped: the root and the last
    MAX_REFERENCES - 1 ids.
    """
    theirs, ours = 0, 1  # of the same moment, their mail sorts first: the desk's answers it
    events = sorted(
        [(at, theirs, n, mid) for n, (mid, at) in enumerate(received)]
        + [(at, ours, n, mid) for n, (mid, at) in enumerate(sent)]
    )
    if received:
        answered = max(i for i, event in enumerate(events) if event[1] == theirs)
        events = events[: answered + 1]
    ids = list(dict.fromkeys(mid for *_, mid in events if mid != root))
    return [root, *ids[-(MAX_REFERENCES - 1) :]]
