"""How a ticket's mail hangs together in the customer's mail client, and finds its way back.

- Every mail has its own Message-ID on the desk's domain (``NOTIFY_MESSAGE_ID_DOMAIN``),
  stored on its outbox row before it is sent, so a resend carries the same one.
- Every mail about a ticket refers to the ticket's root id ``<scp-000042@domain>``
  (``References``), then to the Message-IDs that recipient was already sent about it,
  oldest first; ``In-Reply-To`` is the last of them. Clients that thread by headers
  (Thunderbird, Apple Mail, Outlook) and by subject (Gmail) both see one conversation.
- The subject carries the reference, ``[SCP-000042]``.
- ``Reply-To`` is the desk's reply address with the reference as a +tag
  (``support+scp-000042@sofacoverpro.com``).

The inbound side reads the same facts back: ``selectors.ticket_for_message_ids`` and
``reference_from_address``.
"""

from __future__ import annotations

import re

from django.conf import settings

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
    """The thread a new mail to ``recipient`` about ``ticket`` follows: the root, then what they were sent."""
    earlier = list(
        Notification.objects.filter(ticket_id=ticket.pk, recipient=recipient, channel=Notification.Channel.EMAIL)
        .exclude(message_id="")
        .order_by("-created_at", "-id")
        .values_list("message_id", flat=True)[: MAX_REFERENCES - 1]
    )
    return [root_id(ticket), *reversed(earlier)]
