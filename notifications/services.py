"""Who hears about what, written to the outbox in the caller's transaction.

Routing is data (``AlertRoute``, seeded from the procedures document): P0
phone + SMS + Slack + email; P1 Slack + email; P2 email + dashboard; P3
dashboard only; #support-critical for P0/P1, #support-general for P2/P3,
#launch-monitoring for system alerts.

- new P0/P1 ticket: the on-call agents of its tier (all of the tier if nobody is on call);
- escalation: the agents of the target tier, plus managers when it goes to management (a
  customer's request never does: it goes up one tier and waits for a lead's review);
- 75 % of a target used: the assignee, or the tier if nobody has the ticket;
- breach: the assignee or the tier, and the priority's Slack channel;
- the customer: an acknowledgment when the ticket is filed, a notice when it is resolved;
- every public reply by the desk: the requester and the ticket's CCs, one mail each;
- a customer's reply: the assignee, or the tier when nobody has the ticket (dashboard and email).

Every alert to a person also leaves an item on their dashboard ("My notifications"), whatever
the route's channels: the new P0/P1 to the on-call agents, an escalation to the target tier,
a warning or breach to the assignee (or tier), a customer's reply to the assignee (or tier).

Alerts to people about priorities with quiet hours (P2/P3) are held outside
the priority's business calendar and go out when it opens; customer mail is
never held. Nothing here sends: ``relay.outbox_flush`` does, after commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from accounts import permissions as roles
from escalation import selectors as sla_selectors
from escalation import sla
from escalation.models import Escalation, SlaBreach
from escalation.services import SlaHappened
from sofacover.dbutil import insert_many
from tickets import selectors as ticket_selectors
from tickets.models import Message, Ticket

from . import mailthread, messages, selectors
from .models import AlertRoute, Notification, SlackChannel, WebhookEndpoint

logger = logging.getLogger(__name__)
Channel = Notification.Channel
Kind = Notification.Kind
Status = Notification.Status
PEOPLE_CHANNELS = (Channel.PHONE, Channel.SMS, Channel.EMAIL, Channel.DASHBOARD)
QUIET_HOURS_LOOKAHEAD = timedelta(days=21)


# --- the outbox row -------------------------------------------------------------------


def queue(
    *,
    channel: str,
    kind: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    now: datetime,
    subject: str = "",
    ticket: Ticket | None = None,
    user: User | None = None,
    body_html: str = "",
    payload: dict | None = None,
    webhook: WebhookEndpoint | None = None,
    hold_until: datetime | None = None,
    fresh_keys: bool = False,
    reply: Message | None = None,
    references: list[str] | None = None,
) -> bool:
    """Write one outbox row unless its dedupe key exists; True when written.

    Dashboard items are delivered by being written (status sent) unless held;
    everything else is pending and the relay is kicked after commit. A mail about a
    ticket follows the recipient's thread of it (mailthread.references_for), unless
    the caller knows it (``references``: a ticket filed in this transaction has only its root).
    """
    if references is None and channel == Channel.EMAIL and ticket is not None:
        references = mailthread.references_for(ticket, recipient)
    row = _row(
        channel=channel,
        kind=kind,
        recipient=recipient,
        body=body,
        dedupe_key=dedupe_key,
        now=now,
        subject=subject,
        ticket=ticket,
        user=user,
        body_html=body_html,
        payload=payload,
        webhook=webhook,
        hold_until=hold_until,
        references=references,
        reply=reply,
    )
    return _write([row], fresh_keys=fresh_keys) == 1


@dataclass(slots=True)
class OutboxRow:
    """One Notification row to insert, without a model instance (the sweep queues thousands at a time)."""

    channel: str
    kind: str
    recipient: str
    user_id: int | None
    ticket_id: int | None
    webhook_id: int | None
    subject: str
    body: str
    body_html: str
    payload: dict
    dedupe_key: str
    message_id: str
    status: str
    next_attempt_at: datetime
    hold_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    attempts: int = 0
    lease_until: datetime | None = None
    claim: str = ""
    last_error: str = ""
    provider_id: str = ""
    read_at: datetime | None = None
    references: str = ""
    reply_id: int | None = None


def _row(
    *,
    channel: str,
    kind: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    now: datetime,
    subject: str = "",
    ticket: Ticket | None = None,
    user: User | None = None,
    body_html: str = "",
    payload: dict | None = None,
    webhook: WebhookEndpoint | None = None,
    hold_until: datetime | None = None,
    references: list[str] | None = None,
    reply: Message | None = None,
) -> OutboxRow:
    """One row; a mail about a ticket gets the reference in its subject and its thread (the root
    only, unless ``references`` says more)."""
    status, next_attempt_at, sent_at = Status.PENDING, now, None
    thread = ""
    if channel == Channel.EMAIL and ticket is not None:
        subject = mailthread.subject_for(ticket, subject)
        thread = " ".join(references or [mailthread.root_id(ticket)])
    if hold_until is not None and hold_until > now:
        status, next_attempt_at = Status.HELD, hold_until
    elif channel == Channel.DASHBOARD:
        status, sent_at = Status.SENT, now
    return OutboxRow(
        channel=channel,
        kind=kind,
        recipient=recipient[:300],
        user_id=user.pk if user is not None else None,
        ticket_id=ticket.pk if ticket is not None else None,
        webhook_id=webhook.pk if webhook is not None else None,
        subject=subject[:300],
        body=body,
        body_html=body_html,
        payload=payload or {},
        dedupe_key=dedupe_key[:200],
        message_id=make_msgid(domain=settings.NOTIFY_MESSAGE_ID_DOMAIN) if channel == Channel.EMAIL else "",
        status=status,
        next_attempt_at=next_attempt_at,
        hold_until=hold_until if status == Status.HELD else None,
        created_at=now,
        sent_at=sent_at,
        references=thread,
        reply_id=reply.pk if reply is not None else None,
    )


def _write(rows: list[OutboxRow], *, fresh_keys: bool = False) -> int:
    """Insert the rows whose dedupe keys are new, in one statement; return how many were new.

    The unique dedupe key still decides under a race (ON CONFLICT DO NOTHING), so
    two writers of the same notification leave one row. ``fresh_keys``: the keys
    name a row created in this transaction (an escalation, a breach), so none can
    exist yet and the look-up is skipped.
    """
    if not rows:
        return 0
    batch = _outbox_batch.get()
    if batch is not None:  # inside outbox_batch(): written, deduped, when the batch ends
        batch.append((rows, fresh_keys))
        return len(rows)
    existing = (
        set()
        if fresh_keys
        else set(
            Notification.objects.filter(dedupe_key__in=[row.dedupe_key for row in rows]).values_list(
                "dedupe_key", flat=True
            )
        )
    )
    fresh = list({row.dedupe_key: row for row in rows if row.dedupe_key not in existing}.values())
    if fresh:
        insert_many(fresh, model=Notification, ignore_conflicts=True)
        if any(row.status == Status.PENDING for row in fresh):
            _kick_after_commit()
    return len(fresh)


_outbox_batch: ContextVar[list[tuple[list[OutboxRow], bool]] | None] = ContextVar("outbox_batch", default=None)


@contextmanager
def outbox_batch() -> Iterator[None]:
    """Collect the outbox rows written inside the block; insert them when it ends, in at most two statements.

    For the sweep, which queues alerts for a batch of tickets at a time. Rows whose
    keys name rows created in this transaction skip the existence check; the rest
    are checked in one query. Nothing is written if the block raises. Counts
    returned inside the block are rows queued, before the check.
    """
    pending: list[tuple[list[OutboxRow], bool]] = []
    token = _outbox_batch.set(pending)
    try:
        yield
    finally:
        _outbox_batch.reset(token)
    _write([row for rows, fresh in pending if fresh for row in rows], fresh_keys=True)
    _write([row for rows, fresh in pending if not fresh for row in rows])


_kick = threading.local()


def _kick_after_commit() -> None:
    """Ask a worker to flush once the transaction commits (one publish per commit, however many rows)."""
    if not settings.NOTIFY_KICK_ON_COMMIT:
        return
    _kick.wanted = True
    transaction.on_commit(_publish_kick)


def _publish_kick() -> None:
    if not getattr(_kick, "wanted", False):
        return
    _kick.wanted = False
    from . import tasks

    tasks.kick_relay()


# --- who ----------------------------------------------------------------------------------

# Within one sweep the same tiers, managers and routes are looked up for every due
# ticket; recipient_cache() keeps them for its duration (never across sweeps).
_memo: ContextVar[dict | None] = ContextVar("notification_memo", default=None)


@contextmanager
def recipient_cache() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _cached(key: tuple, load: Callable[[], Any]) -> Any:
    memo = _memo.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def agents_of_tier(tier: int) -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, is_staff=True, groups__name=roles.AGENT_GROUPS[tier])
        .select_related("responder")
        .order_by("pk")
    )


def tier_agents(tier: int) -> list[User]:
    return _cached(("tier", tier), lambda: list(agents_of_tier(tier)))


def manager_list() -> list[User]:
    return _cached(("managers",), lambda: list(managers()))


def on_call_of_tier(tier: int) -> list[User]:
    """The tier's on-call agents; all of the tier when nobody is on call."""

    def load() -> list[User]:
        agents = agents_of_tier(tier)
        return list(agents.filter(responder__on_call=True)) or list(agents)

    return _cached(("on_call", tier), load)


def managers() -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, is_staff=True, groups__name=roles.MANAGERS)
        .select_related("responder")
        .order_by("pk")
    )


def _owner_or_tier(ticket: Ticket, tier: int | None = None) -> list[User]:
    """The assignee, or the agents of ``tier`` (the ticket's tier when the alert's cause was recorded)."""
    if ticket.assignee is not None and ticket.assignee.is_active:
        return [ticket.assignee]
    return tier_agents(ticket.tier if tier is None else tier)


def _phone_of(person: User) -> str:
    responder = getattr(person, "responder", None)  # None when the agent has no paging details
    return responder.phone_number if responder else ""


def _unique(people: Iterable[User]) -> list[User]:
    seen: dict[int, User] = {}
    for person in people:
        seen.setdefault(person.pk, person)
    return list(seen.values())


# --- when -------------------------------------------------------------------------------------


def hold_until_for(ticket: Ticket, route: AlertRoute, *, now: datetime) -> datetime | None:
    """When a quiet-hours alert to a person may go out: None for now, else the calendar's next opening."""
    if not route.quiet_hours:
        return None
    entry = sla_selectors.policy_book().entry(ticket.priority)
    if entry is None or entry.calendar.always_open:
        return None
    for begin, _ in sla.open_intervals(entry.calendar, now, now + QUIET_HOURS_LOOKAHEAD):
        return None if begin <= now else begin
    return None  # closed for three weeks: better to deliver than to sit on it


# --- alerts -----------------------------------------------------------------------------------


def _slack_text(value: str) -> str:
    """Slack mrkdwn: customer-controlled text cannot make links or @channel mentions."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(ticket: Ticket) -> str:
    return f"{ticket.reference} [{ticket.priority}] {ticket.subject}"


def _link(ticket: Ticket) -> str:
    return f"{settings.DESK_BASE_URL.rstrip('/')}/admin/tickets/ticket/{ticket.pk}/change/"


def _alert(
    *,
    ticket: Ticket,
    kind: str,
    people: list[User],
    subject: str,
    body: str,
    key: str,
    now: datetime,
    slack: bool | None = None,
    fresh_keys: bool = False,
) -> int:
    """Route one alert: per person over the priority's personal channels, once per Slack channel and webhook."""
    route = _cached(
        ("route", ticket.priority),
        lambda: AlertRoute.objects.select_related("slack_channel").filter(priority=ticket.priority).first(),
    )
    if route is None:
        logger.warning("No alert route for %s: %s not sent", ticket.priority, key)
        return 0
    hold = hold_until_for(ticket, route, now=now)
    label = Kind(kind).label
    short = f"{label}: {_describe(ticket)}"
    link = _link(ticket)
    long = f"{body}\n\n{link}"
    rows: list[OutboxRow] = []
    for channel in PEOPLE_CHANNELS:
        # The dashboard is each person's own record of the alerts about them ("My notifications"): whatever
        # the route pages or mails, the people it names find it there too (held in quiet hours like the rest).
        if not getattr(route, channel) and channel != Channel.DASHBOARD:
            continue
        for person in _unique(people):
            recipient = _phone_of(person) if channel in (Channel.SMS, Channel.PHONE) else person.email
            rows.append(
                _row(
                    channel=channel,
                    kind=kind,
                    recipient=recipient or "",
                    subject=subject,
                    body=short[:300] if channel in (Channel.SMS, Channel.PHONE) else long,
                    dedupe_key=f"{key}:{channel}:{person.pk}",
                    now=now,
                    ticket=ticket,
                    user=person,
                    hold_until=hold,
                )
            )
    post_to_slack = route.slack if slack is None else slack
    if post_to_slack and route.slack_channel is not None:
        line = f"*{label}* <{link}|{ticket.reference}> [{ticket.priority}] {_slack_text(ticket.subject)}"
        rows.append(
            _row(
                channel=Channel.SLACK,
                kind=kind,
                recipient=route.slack_channel.name,
                subject=subject,
                body=f"{_slack_text(body)}\n<{link}|Open {ticket.reference}>",
                payload={"line": line},
                dedupe_key=f"{key}:slack",
                now=now,
                ticket=ticket,
            )
        )
    if route.webhook:
        endpoints = _cached(("webhooks",), lambda: list(WebhookEndpoint.objects.filter(active=True)))
        for endpoint in endpoints:
            rows.append(
                _row(
                    channel=Channel.WEBHOOK,
                    kind=kind,
                    recipient=endpoint.name,
                    webhook=endpoint,
                    subject=subject,
                    body=body,
                    payload={
                        "event": kind,
                        "ticket": ticket.reference,
                        "priority": ticket.priority,
                        "tier": ticket.tier,
                        "subject": ticket.subject,
                        "summary": subject,
                        "at": now.isoformat(),
                    },
                    dedupe_key=f"{key}:webhook:{endpoint.pk}",
                    now=now,
                    ticket=ticket,
                )
            )
    return _write(rows, fresh_keys=fresh_keys)


def system_alert(*, subject: str, body: str, key: str, now: datetime) -> int:
    """Tell the people who run the desk: #launch-monitoring and the managers' dashboard. Deduped by key."""
    written = 0
    channel = SlackChannel.objects.filter(name=settings.NOTIFY_SYSTEM_SLACK_CHANNEL).first()
    if channel is not None:
        written += queue(
            channel=Channel.SLACK,
            kind=Kind.SYSTEM,
            recipient=channel.name,
            subject=subject,
            body=_slack_text(body),
            payload={"line": f"*System* {_slack_text(subject)}"},
            dedupe_key=f"{key}:slack",
            now=now,
        )
    for person in managers():
        written += queue(
            channel=Channel.DASHBOARD,
            kind=Kind.SYSTEM,
            recipient=person.email,
            subject=subject,
            body=body,
            dedupe_key=f"{key}:dashboard:{person.pk}",
            now=now,
            user=person,
        )
    return written


def _customer_mail(
    *,
    ticket: Ticket,
    kind: str,
    template: str,
    key: str,
    now: datetime,
    fresh_keys: bool = False,
    copies: bool = False,
    answers: str = "",
) -> bool:
    """The requester gets ``template`` rendered for the ticket, and with ``copies`` everyone on its CC
    list too, one mail each (no Cc header, as with replies). ``fresh_keys``: the ticket is new in
    this transaction, so nothing was mailed about it yet (the thread is its root alone, and
    ``answers``, the Message-ID of the requester's mail that filed it)."""
    requester = ticket.requester
    recipients: list[tuple[str, User | None]] = [(requester.email, requester)] if requester.email else []
    if copies:
        recipients += [(cc.email, None) for cc in ticket_selectors.cc_list(ticket=ticket)]
    if not recipients:
        return False
    rendered = messages.render_for_ticket(template, ticket, now=now)
    written = False
    for address, person in recipients:
        written |= queue(
            channel=Channel.EMAIL,
            kind=kind,
            recipient=address,
            subject=rendered.subject,
            body=rendered.text,
            body_html=rendered.html,
            dedupe_key=key if person is requester else f"{key}:{address}",
            now=now,
            ticket=ticket,
            user=person,
            fresh_keys=fresh_keys,
            references=[mailthread.root_id(ticket), *([answers] if answers else [])] if fresh_keys else None,
        )
    return written


def on_ticket_created(*, ticket: Ticket, now: datetime, acknowledge: bool = True, in_reply_to: str = "") -> None:
    """The customer gets the acknowledgment (unless ``acknowledge`` is False: the mail gateway's loop
    protection), in reply to their mail when one filed the ticket (``in_reply_to``, its Message-ID);
    a new P0/P1 declares an incident to the tier's on-call agents.

    Both keys name the ticket created in this transaction, so none can exist yet.
    """
    if acknowledge:
        _customer_mail(
            ticket=ticket,
            kind=Kind.ACKNOWLEDGMENT,
            template="ticket_acknowledgment",
            key=f"ack:{ticket.pk}",
            now=now,
            fresh_keys=True,
            answers=in_reply_to,
        )
    if ticket.priority in (Ticket.Priority.P0, Ticket.Priority.P1):
        declared = messages.render_for_ticket("incident_declaration", ticket, now=now)
        _alert(
            ticket=ticket,
            kind=Kind.TICKET_CREATED,
            people=on_call_of_tier(ticket.tier),
            subject=declared.subject,
            body=declared.text,
            key=f"new:{ticket.pk}",
            now=now,
            fresh_keys=True,
        )


def escalation_key(escalation: Escalation) -> str:
    """An automatic escalation is unique per (ticket, rule), so its key needs no saved row; a person's is its id."""
    if escalation.rule_id is not None:
        return f"esc:{escalation.ticket_id}:rule:{escalation.rule_id}"
    return f"esc:{escalation.pk}"


def breach_key(breach: SlaBreach) -> str:
    """A breach is unique per (ticket, clock, deadline): its key needs no saved row."""
    return f"breach:{breach.ticket_id}:{breach.kind}:{breach.due_at.isoformat()}"


def on_escalated(*, escalation: Escalation, now: datetime) -> None:
    ticket = escalation.ticket
    if escalation.to_management:
        people, target = [*manager_list(), *tier_agents(escalation.to_tier)], "management"
    else:
        people, target = tier_agents(escalation.to_tier), f"Tier {escalation.to_tier}"
    note = f"\nNote: {escalation.note}" if escalation.note else ""
    if escalation.reason == Escalation.Reason.CUSTOMER_REQUEST:
        # Up one tier at most, never management; a lead reviews it (the queue's "Lead review" filter).
        moved = f"moved to {target}" if escalation.to_tier != escalation.from_tier else f"stays in {target}"
        subject = f"Customer asked to escalate {ticket.reference}"
        body = f"{_describe(ticket)}: the customer asked to escalate; {moved}, waiting for a lead's review.{note}"
    else:
        subject = f"Escalated to {target}: {ticket.reference}"
        body = f"{_describe(ticket)} escalated to {target} ({escalation.get_reason_display()}).{note}"
    _alert(
        ticket=ticket,
        kind=Kind.ESCALATED,
        people=people,
        subject=subject,
        body=body,
        key=escalation_key(escalation),
        now=now,
        fresh_keys=True,
    )


def on_breach_warning(
    *, ticket: Ticket, kind: str, due_at: datetime | None, now: datetime, tier: int | None = None
) -> int:
    """75 % of a target has run: the assignee (or the tier, if nobody has it) hears.

    ``tier``: the ticket's tier when the warning fell due (the sweep may move it later in the same run).
    """
    label = SlaBreach.Kind(kind).label.lower()
    return _alert(
        ticket=ticket,
        kind=Kind.BREACH_WARNING,
        people=_owner_or_tier(ticket, tier),
        subject=f"{ticket.reference}: {label} due {messages.when(due_at)}" if due_at else ticket.reference or "",
        body=f"{_describe(ticket)}: 75 % of the {label} target is used; it is due {messages.when(due_at)}.",
        key=f"warn:{ticket.pk}:{kind}:{due_at.isoformat() if due_at else ''}",
        now=now,
    )


def on_breached(*, breach: SlaBreach, now: datetime) -> None:
    """A target was missed: the assignee or the tier, and always the priority's Slack channel."""
    ticket = breach.ticket
    label = breach.get_kind_display().lower()
    _alert(
        ticket=ticket,
        kind=Kind.BREACHED,
        people=_owner_or_tier(ticket, breach.tier),
        subject=f"{ticket.reference}: {label} target breached",
        body=f"{_describe(ticket)}: the {label} target was due {messages.when(breach.due_at)}.",
        key=breach_key(breach),
        now=now,
        fresh_keys=True,
        slack=True,
    )


def sla_alerts(*, happened: SlaHappened, now: datetime) -> int:
    """Who hears about what one batch of the SLA sweep did: breaches, warnings and escalations.

    Written in the batch's transaction, in at most two statements (outbox_batch); returns
    the rows queued (before the dedupe check of the warnings, whose keys may exist).
    """
    queued = 0
    with outbox_batch():
        for breach in happened.breaches:
            on_breached(breach=breach, now=now)
        for warning in happened.warnings:
            queued += on_breach_warning(
                ticket=warning.ticket, kind=warning.kind, due_at=warning.due_at, now=now, tier=warning.tier
            )
        for escalation in happened.escalations:
            on_escalated(escalation=escalation, now=now)
    return queued


def on_resolved(*, ticket: Ticket, now: datetime) -> None:
    """The requester and everyone on the CC list hear the ticket is resolved, with the resolving
    agent's note as its "Resolution"."""
    _customer_mail(
        ticket=ticket,
        kind=Kind.RESOLUTION,
        template="ticket_resolution",
        key=f"resolved:{ticket.pk}:{now.isoformat()}",
        now=now,
        copies=True,
    )


# --- the conversation ---------------------------------------------------------------------------


def on_agent_reply(*, message: Message, now: datetime) -> int:
    """A public reply by the desk, mailed to the requester and to every CC: one mail each.

    Each recipient sees only their own address (no Cc header), so people copied on one
    ticket never learn each other's, nor anyone's on another ticket. The mail is the
    agent's words, not an automatic notice (no Auto-Submitted), with the reply's
    attachments attached up to NOTIFY_EMAIL_ATTACHMENTS_MAX_BYTES in all and linked
    beyond. Internal notes and customers' own messages are never mailed. Returns the
    mails queued.
    """
    if message.internal or not message.by_agent:
        return 0
    ticket = message.ticket
    recipients: list[tuple[str, User | None]] = []
    if ticket.requester.email:
        recipients.append((ticket.requester.email, ticket.requester))
    recipients += [(cc.email, None) for cc in ticket_selectors.cc_list(ticket=ticket)]
    if not recipients:
        return 0
    composed = messages.reply_mail(message, now=now)
    written = 0
    for address, person in recipients:
        written += queue(
            channel=Channel.EMAIL,
            kind=Kind.REPLY,
            recipient=address,
            subject=composed.subject,
            body=composed.text,
            body_html=composed.html,
            payload={"attachments": composed.attach},
            dedupe_key=f"reply:{message.pk}:{address}",
            now=now,
            ticket=ticket,
            user=person,
            reply=message,
            fresh_keys=True,  # the message was written in this transaction: no key can exist yet
        )
    return written


def on_customer_reply(*, message: Message, now: datetime, files: int | None = None) -> int:
    """The customer wrote (portal, API or email): the assignee hears, or the tier's agents when
    nobody has the ticket, on the dashboard and by email (held in quiet hours, like other alerts).
    ``files``: how many files the reply carries, when the caller knows (else they are counted)."""
    if message.internal or message.by_agent:
        return 0
    ticket = message.ticket
    route = AlertRoute.objects.filter(priority=ticket.priority).first()
    hold = hold_until_for(ticket, route, now=now) if route is not None else None
    subject = f"{ticket.reference}: the customer replied"
    excerpt = message.body if len(message.body) <= 1000 else message.body[:1000] + "…"
    if files is None:
        files = message.attachments.count()
    attached = f"\n({files} attachment{'s' if files != 1 else ''})" if files else ""
    body = f"{_describe(ticket)}: the customer replied.\n\n{excerpt}{attached}\n\n{_link(ticket)}"
    people = _unique(_owner_or_tier(ticket))  # read once, for both channels
    rows = [
        _row(
            channel=channel,
            kind=Kind.CUSTOMER_REPLY,
            recipient=person.email,
            subject=subject,
            body=body,
            dedupe_key=f"customer-reply:{message.pk}:{channel}:{person.pk}",
            now=now,
            ticket=ticket,
            user=person,
            hold_until=hold,
            reply=message,
        )
        for channel in (Channel.DASHBOARD, Channel.EMAIL)
        for person in people
        if person.email or channel == Channel.DASHBOARD
    ]
    return _write(rows, fresh_keys=True)


# --- the dashboard ----------------------------------------------------------------------------


def dashboard_mark_read(*, user: User, ids: Iterable[int], now: datetime) -> int:
    return selectors.dashboard_feed_for(user=user).filter(pk__in=list(ids), read_at__isnull=True).update(read_at=now)
