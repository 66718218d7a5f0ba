"""Reads of the notifications app: an agent's dashboard feed; which ticket an inbound reply belongs to;
the relay's backlog; which of its mails a delivery report returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, F, Min, QuerySet

from tickets.models import Ticket

from . import mailthread
from .models import Notification


def dashboard_feed_for(*, user: User) -> QuerySet[Notification]:
    """An agent's in-app notifications, newest first: delivered ones only (held ones appear when released)."""
    return (
        Notification.objects.filter(user=user, channel=Notification.Channel.DASHBOARD, status=Notification.Status.SENT)
        .select_related("ticket")
        .order_by("-created_at", "-id")
    )


def _message_id(value: str) -> str:
    value = value.strip()
    return value if value.startswith("<") else f"<{value}>"


def ticket_for_message_ids(ids: Iterable[str]) -> Ticket | None:
    """The ticket an inbound mail answers, from its In-Reply-To and References, or None.

    ``ids``: Message-IDs in order of preference (In-Reply-To first, then References from
    the newest); the first that is ours decides: a mail the desk sent about a ticket
    (its outbox row keeps the Message-ID), or a ticket's thread root ``<scp-000042@…>``.
    Two queries at most, whatever the number of ids: the outbox's mails (with their tickets),
    unless every id is a root; the roots' tickets, only if no sent mail decided first.

    A header is what the sender says: the caller still checks that the sender may write
    on the ticket (its requester or one of its CCs) before adding anything to it.
    """
    wanted = list(dict.fromkeys(_message_id(value) for value in ids if value and value.strip()))
    if not wanted:
        return None
    roots = {value: mailthread.reference_from_root(value) for value in wanted}
    others = [value for value in wanted if not roots[value]]  # a root is never a sent mail's id
    sent: dict[str, Ticket] = {}
    if others:
        sent = {
            ticket.sent_message_id: ticket
            for ticket in Ticket.objects.select_related("requester")
            .filter(notifications__message_id__in=others)
            .annotate(sent_message_id=F("notifications__message_id"))
            .order_by()
        }
    by_reference: dict[str, Ticket] | None = None
    for value in wanted:
        if value in sent:
            return sent[value]
        reference = roots[value]
        if not reference:
            continue
        if by_reference is None:
            references = [ref for ref in roots.values() if ref]
            by_reference = {
                ticket.reference: ticket
                for ticket in Ticket.objects.select_related("requester").filter(reference__in=references)
                if ticket.reference
            }
        if reference in by_reference:
            return by_reference[reference]
    return None


@dataclass(frozen=True)
class OutboxBacklog:
    """What the relay should have sent by now and has not: due rows per channel (every channel, zero when none),
    and the oldest due time."""

    due_by_channel: dict[str, int]
    oldest_due_at: datetime | None

    def oldest_age_seconds(self, *, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


def outbox_backlog(*, now: datetime) -> OutboxBacklog:
    """Rows the relay would claim now (relay._due: pending or held, next attempt reached), read through
    outbox_due_idx. Rows waiting for a retry's backoff or for quiet hours to end are not due yet; rows being
    sent are not backlog (their lease brings them back if a relay died)."""
    rows = (
        Notification.objects.filter(
            status__in=(Notification.Status.PENDING, Notification.Status.HELD), next_attempt_at__lte=now
        )
        .values("channel")
        .annotate(due=Count("id"), oldest=Min("next_attempt_at"))
        .order_by("channel")
    )
    by_channel = dict.fromkeys(Notification.Channel.values, 0) | {row["channel"]: row["due"] for row in rows}
    oldest = min((row["oldest"] for row in rows), default=None)
    return OutboxBacklog(due_by_channel=by_channel, oldest_due_at=oldest)


# The outbox handed these mails to a mail server (or is doing so): only they can come back as a bounce.
HANDED_OVER = (Notification.Status.SENDING, Notification.Status.SENT)


def mail_recipients(message_ids: Iterable[str]) -> set[str]:
    """The addresses the desk's own mail with these Message-IDs went to; empty for ids it never sent.

    What a delivery report returns is the desk's only if the outbox sent a mail with that
    Message-ID (its ids are random: nobody learns one but by receiving the mail), and only that
    mail's recipient may be marked undeliverable by it. One query, on the Message-ID index.
    """
    wanted = list(dict.fromkeys(_message_id(value) for value in message_ids if value and value.strip()))[:100]
    if not wanted:
        return set()
    # Found by the Message-ID index alone (one row per id), the rest read here: filtering on the
    # channel or status too lets the planner combine an index covering most of the outbox.
    rows = Notification.objects.filter(message_id__in=wanted).order_by().values_list("recipient", "channel", "status")
    return {
        recipient.strip().lower()
        for recipient, channel, status in rows
        if channel == Notification.Channel.EMAIL and status in HANDED_OVER
    }
