"""What the desk does, one function per use case: every effect, across the apps, in order.

Each use case runs in one transaction, takes ``now`` from its caller (a view, a task,
a command) and calls each app's services by name. Reading one tells you everything
it does; nothing else runs behind it (no signals). Side effects outside the database
(mail, Slack, webhooks) are outbox rows written here and sent after commit.

The apps: ``accounts`` (users and roles), ``tickets`` (tickets, thread, timeline),
``escalation`` (SLA clock, escalations), ``notifications`` (who hears what: the
outbox, routing, templates, delivery), ``knowledge`` (articles, deflection),
``surveys`` (ratings, survey mail and links), ``reports`` (facts and daily rollup).
Doors into the desk — the portal, the API, the console, tasks, commands and, next,
the mail gateway and chat — call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

import escalation.services
import inbound.loops
import inbound.parsing
import inbound.selectors
import inbound.services
import knowledge.services
import notifications.mailthread
import notifications.selectors
import notifications.services
import reports.rollup
import surveys.services
import tickets.services
from escalation.models import Escalation
from inbound.models import InboundMail
from sofacover.errors import DomainError
from surveys.models import Rating
from tickets.models import Message, Ticket, TicketCc
from tickets.uploads import CheckedUpload

Status = Ticket.Status
# Fields whose change moves the SLA clock (pauses, deadlines).
CLOCK_FIELDS = {"status", "priority", "tier"}


@transaction.atomic
def file_ticket(
    *,
    requester: User,
    subject: str,
    description: str,
    now: datetime,
    actor: User | None = None,
    priority: str = Ticket.Priority.P2,
    category: str = Ticket.Category.OTHER,
    channel: str = Ticket.Channel.PORTAL,
    tier: int = Ticket.Tier.TIER_1,
    assignee: User | None = None,
    attachments: Sequence[CheckedUpload] = (),
    visitor_keys: Sequence[str] = (),
    acknowledge: bool = True,
    in_reply_to: str = "",
) -> Ticket:
    """A customer (or an agent for them) files a ticket, from any channel.

    1. escalation plans the first deadlines, written with the ticket's own row;
    2. tickets writes the ticket, its first timeline event and attachments;
    3. notifications queues the acknowledgment (unless ``acknowledge`` is False: mail the desk
       must not answer automatically; in reply to the mail that filed it: ``in_reply_to``, its
       Message-ID), and for P0/P1 the on-call alert;
    4. knowledge marks the requester's (and ``visitor_keys``') suggestion opens as not deflected;
    5. reports adds the ticket's fact to the rollup.
    """
    sla = escalation.services.sla_plan_new(priority=priority, tier=tier, now=now)
    ticket = tickets.services.ticket_open(
        requester=requester,
        subject=subject,
        description=description,
        now=now,
        actor=actor,
        priority=priority,
        category=category,
        channel=channel,
        tier=tier,
        assignee=assignee,
        attachments=attachments,
        sla=sla,
    )
    notifications.services.on_ticket_created(ticket=ticket, now=now, acknowledge=acknowledge, in_reply_to=in_reply_to)
    knowledge.services.suggestion_ticket_filed(ticket=ticket, now=now, visitor_keys=visitor_keys)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk], created=True)
    return ticket


@transaction.atomic
def reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    now: datetime,
    internal: bool = False,
    attachments: Sequence[CheckedUpload] = (),
) -> Message:
    """A public reply or an internal note, from any channel (portal, API, console, email).

    1. tickets adds the message (a reply may open, reopen or answer the ticket);
    2. for a public reply, escalation moves the clock: pauses follow the status, deadlines are replanned;
    3. for a public reply, notifications mails the desk's reply to the requester and the CCs, or
       alerts the assignee (else the tier) that the customer wrote; an internal note goes nowhere;
    4. reports refreshes the ticket's fact.
    """
    message = tickets.services.message_add(
        ticket=ticket, author=author, body=body, now=now, internal=internal, attachments=attachments
    )
    if not internal:
        escalation.services.sla_follow(ticket=message.ticket, now=now)
        if message.by_agent:
            notifications.services.on_agent_reply(message=message, now=now)
        else:
            notifications.services.on_customer_reply(message=message, now=now, files=len(attachments))
    reports.rollup.facts_refresh(ticket_ids=[message.ticket.pk])
    return message


def _after_status_change(ticket: Ticket, *, now: datetime) -> None:
    """The clock follows the status; a ticket resolved now tells its requester and asks for a rating."""
    escalation.services.sla_follow(ticket=ticket, now=now)
    if ticket.status == Status.RESOLVED and ticket.resolved_at == now:
        notifications.services.on_resolved(ticket=ticket, now=now)
        surveys.services.survey_send(ticket=ticket, now=now)


@transaction.atomic
def resolve(*, ticket: Ticket, actor: User, now: datetime, resolution_note: str = "") -> Ticket:
    """An agent resolves the ticket (saying how: required on a P0/P1), or its requester marks it solved.

    1. tickets resolves it, keeping the note; 2. escalation pauses the clock; 3. notifications
    queues the resolution mail (its "Resolution" is the note); 4. surveys queues the survey;
    5. reports refreshes the fact.
    """
    ticket = tickets.services.ticket_resolve(ticket=ticket, actor=actor, now=now, resolution_note=resolution_note)
    _after_status_change(ticket, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return ticket


@transaction.atomic
def reopen(*, ticket: Ticket, actor: User, now: datetime) -> Ticket:
    """Reopen a resolved ticket: tickets reopens it, escalation restarts the clock, reports refreshes the fact."""
    ticket = tickets.services.ticket_reopen(ticket=ticket, actor=actor, now=now)
    escalation.services.sla_follow(ticket=ticket, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return ticket


@transaction.atomic
def change(*, ticket: Ticket, actor: User, now: datetime, **changes: Any) -> Ticket:
    """An agent's edits (subject, priority, tier, category, status, assignee, resolution note), all or nothing.

    1. tickets applies them; 2. if status, priority or tier were among them, escalation
    moves the clock (and a ticket resolved by it tells its requester, asks for a rating);
    3. reports refreshes the fact.
    """
    ticket = tickets.services.ticket_update(ticket=ticket, actor=actor, now=now, **changes)
    if changes.keys() & CLOCK_FIELDS:
        _after_status_change(ticket, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return ticket


@transaction.atomic
def change_status(*, ticket: Ticket, to: str, actor: User, now: datetime, resolution_note: str | None = None) -> Ticket:
    """Move the ticket to status ``to``: tickets checks the transition (and a resolution's note), then as change()."""
    ticket = tickets.services.ticket_change_status(
        ticket=ticket, to=to, actor=actor, now=now, resolution_note=resolution_note
    )
    _after_status_change(ticket, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return ticket


@transaction.atomic
def assign(*, ticket: Ticket, assignee: User | None, actor: User, now: datetime) -> Ticket:
    """Give the ticket to an agent (or nobody): tickets assigns, reports refreshes the fact."""
    ticket = tickets.services.ticket_assign(ticket=ticket, assignee=assignee, actor=actor, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return ticket


def bulk(*, batch: Iterable[Ticket], actor: User, now: datetime, action: str, **kwargs: Any) -> tuple[int, list[str]]:
    """The console's bulk actions: one use case per ticket, each in its own transaction; report the refusals."""
    actions = {
        "resolve": lambda t: resolve(ticket=t, actor=actor, now=now),
        "assign": lambda t: assign(ticket=t, assignee=kwargs.get("assignee"), actor=actor, now=now),
        "priority": lambda t: change(ticket=t, actor=actor, now=now, priority=kwargs["priority"]),
    }
    done, refused = 0, []
    for ticket in batch:
        try:
            actions[action](ticket)
            done += 1
        except DomainError as exc:
            refused.append(f"{ticket.reference}: {exc.message}")
    return done, refused


@transaction.atomic
def cc_add(*, ticket: Ticket, email: str, actor: User | None, now: datetime) -> TicketCc:
    """Copy someone on the ticket's public replies: tickets adds the address (the desk's timeline
    notes it); from then on notifications mails them every public reply."""
    return tickets.services.cc_add(ticket=ticket, email=email, by=actor, now=now)


@transaction.atomic
def cc_remove(*, ticket: Ticket, email: str, actor: User | None, now: datetime) -> bool:
    """Stop copying someone: tickets removes the address; False when it was not copied."""
    return tickets.services.cc_remove(ticket=ticket, email=email, by=actor, now=now)


@transaction.atomic
def escalate(
    *, ticket: Ticket, actor: User, reason: str, now: datetime, note: str = "", from_tier: int | None = None
) -> Escalation:
    """A person escalates: escalation records it, moves the tier and replans; notifications alerts
    the target tier (and managers); reports refreshes the fact."""
    done = escalation.services.ticket_escalate(
        ticket=ticket, actor=actor, reason=reason, note=note, now=now, from_tier=from_tier
    )
    notifications.services.on_escalated(escalation=done, now=now)
    reports.rollup.facts_refresh(ticket_ids=[done.ticket_id])
    return done


@transaction.atomic
def rate(*, ticket: Ticket, actor: User, score: int, now: datetime, comment: str = "") -> tuple[Rating, bool]:
    """The requester rates a resolved ticket: surveys stores the rating, reports refreshes the fact."""
    rating, created = surveys.services.rating_submit(ticket=ticket, actor=actor, score=score, comment=comment, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
    return rating, created


@transaction.atomic
def rate_by_link(*, token: str, score: int, now: datetime, comment: str = "") -> Rating:
    """A rating through the emailed survey link: surveys spends the link and stores it, reports refreshes the fact."""
    rating = surveys.services.survey_link_rate(token=token, score=score, comment=comment, now=now)
    reports.rollup.facts_refresh(ticket_ids=[rating.ticket_id])
    return rating


@transaction.atomic
def close_resolved(*, now: datetime, after: timedelta) -> int:
    """The auto-close beat: tickets closes what was resolved before ``now - after``, escalation
    ends their pauses and replans, reports refreshes their facts. Returns how many closed."""
    closed = tickets.services.tickets_close_resolved(now=now, after=after)
    for ticket in closed:
        escalation.services.sla_follow(ticket=ticket, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk for ticket in closed])
    return len(closed)


def sla_sweep(*, now: datetime, limit: int = 5000) -> escalation.services.SweepResult:
    """The SLA beat: escalation applies what fell due (breaches, warnings, rules) a batch of tickets
    per transaction; in each, notifications alerts who must hear of it and reports refreshes the
    facts of the batch's tickets. Recipients (tiers, managers, routes) are read once per sweep."""
    with notifications.services.recipient_cache():
        return escalation.services.escalation_sweep(
            now=now,
            limit=limit,
            happened=lambda done: notifications.services.sla_alerts(happened=done, now=now),
            changed=lambda ids: reports.rollup.facts_refresh(ticket_ids=ids),
        )


def sla_recompute_open(*, now: datetime, priorities: list[str] | None = None) -> list[dict]:
    """After a policy, calendar, target or rule edit: escalation replans the open tickets
    (each in its own transaction), and reports refreshes the facts of those whose deadlines moved."""
    return escalation.services.sla_recompute_open(
        now=now, priorities=priorities, changed=lambda ids: reports.rollup.facts_refresh(ticket_ids=ids)
    )


@transaction.atomic
def tickets_delete(*, ticket_ids: Iterable[int]) -> int:
    """A superuser deletes tickets: reports takes them out of the rollup, then tickets deletes them."""
    ids = sorted(set(ticket_ids))
    reports.rollup.facts_forget(ticket_ids=ids)
    deleted, _ = Ticket.objects.filter(pk__in=ids).delete()
    return deleted


# --- the ways in that are not a form: email, phone ---------------------------------------------------

Outcome = InboundMail.Outcome


def _thread_of(mail: inbound.parsing.ParsedMail, author: User | None) -> Ticket | None:
    """The ticket a mail answers: by In-Reply-To/References, then by the reference in its subject,
    never by its subject's words. A ticket the sender is not on is not theirs to write on (a forged
    References): the mail then opens a ticket of its own.

    In order: the Message-IDs the desk sent (notifications keeps them), those of mail it received
    (inbound), the ticket's reply address (``support+scp-000042@``), the reference in the subject.
    """
    lookups = (
        lambda: notifications.selectors.ticket_for_message_ids(mail.thread_ids),
        lambda: inbound.selectors.ticket_for_message_ids(mail.thread_ids),
        lambda: _ticket_for_reply_address((*mail.to, *mail.cc)),
        lambda: inbound.selectors.ticket_for_subject(mail.subject),
    )
    for lookup in lookups:
        ticket = lookup()
        if ticket is not None and inbound.services.sender_is_on(ticket, author, address=mail.sender):
            return ticket
    return None


def _ticket_for_reply_address(addresses: Iterable[str]) -> Ticket | None:
    """The ticket whose own reply address (the Reply-To of the desk's mail) the mail was sent to."""
    for address in addresses:
        reference = notifications.mailthread.reference_from_address(address)
        if reference is not None:
            return inbound.selectors.ticket_for_reference(reference)
    return None


def _copy_recipients(ticket: Ticket, mail: inbound.parsing.ParsedMail, *, now: datetime) -> None:
    """Everyone the first email went to besides the desk and the sender is copied on the replies;
    an address tickets refuses (the desk's own, the requester's, past a full list) is left out."""
    tickets.services.cc_add_many(ticket=ticket, emails=(*mail.to, *mail.cc), now=now)


@transaction.atomic
def receive_email(raw: bytes, *, now: datetime, door: str = InboundMail.Door.SMTP) -> inbound.services.Receipt:
    """A message arrives (SMTP listener, IMAP poller or provider webhook): every door calls this.

    1. inbound reads it (refusing what is too large or malformed) and records it under its
       Message-ID: a second delivery of the same message stops here;
    2. a delivery report marks the failed addresses undeliverable, only those the desk's mail it
       returns went to (notifications knows which mail the outbox sent, by its Message-ID);
       the desk's own mail coming back is a loop: both are kept for agents and go no further;
    3. the sender's account is found, or created (or the mail refused: MAIL_UNKNOWN_SENDERS);
    4. quoted history and signatures are cut, attachments checked like uploads, the original
       kept as .eml;
    5. a reply to an open or resolved ticket of theirs goes on it (``reply``: a resolved one
       reopens); anything else opens a ticket (``file_ticket``, channel email), linked to the
       closed ticket it answers; the acknowledgment goes out only to mail that may be answered
       automatically, at most MAIL_AUTO_REPLIES_PER_HOUR an hour per address.

    :raises MailRejected: too large, malformed, or an unknown sender refused; nothing is stored
    """
    mail = inbound.parsing.parse(raw)
    record = inbound.services.inbound_claim(mail=mail, door=door, now=now)
    if record is None:
        return inbound.services.inbound_duplicate(mail=mail)
    if inbound.loops.is_bounce(mail):
        sent_to = notifications.selectors.mail_recipients(mail.returned_ids)
        _, note = inbound.services.bounce_record(mail=mail, sent_to=sent_to, now=now)
        return inbound.services.inbound_settle(record, mail=mail, outcome=Outcome.BOUNCE, note=note)
    if inbound.loops.is_own(mail):
        return inbound.services.inbound_settle(
            record, mail=mail, outcome=Outcome.IGNORED, note="the desk's own mail came back (a loop)"
        )
    known = inbound.selectors.user_for_address(mail.sender)
    thread = _thread_of(mail, known)
    author = known or inbound.services.customer_for_sender(address=mail.sender, name=mail.sender_name)
    if thread is not None and thread.status != Status.CLOSED:
        content = inbound.services.mail_content(mail=mail, new_ticket=False)
        try:  # reply is atomic: a refusal rolls back to before it, and the record says why
            message = reply(ticket=thread, author=author, body=content.body, attachments=content.attachments, now=now)
        except DomainError as exc:  # an agent writing on a ticket outside their scope, say
            return inbound.services.inbound_settle(
                record, mail=mail, outcome=Outcome.REFUSED, ticket=thread, note=exc.message
            )
        return inbound.services.inbound_settle(
            record, mail=mail, outcome=Outcome.REPLIED, ticket=thread, message=message
        )
    content = inbound.services.mail_content(mail=mail, new_ticket=True)
    why_not = inbound.loops.no_auto_reply_reason(mail)
    acknowledge = why_not is None and inbound.services.auto_reply_allow(address=mail.sender, now=now)
    description = content.body or "(The message has no text.)"
    if thread is not None:
        description = f"Follow-up to {thread.reference}, which is closed.\n\n{description}"
    ticket = file_ticket(
        requester=author,
        subject=inbound.services.ticket_subject(mail),
        description=description[: inbound.services.BODY_LIMIT],
        channel=Ticket.Channel.EMAIL,
        attachments=content.attachments,
        acknowledge=acknowledge,
        in_reply_to=mail.own_id,
        now=now,
    )
    _copy_recipients(ticket, mail, now=now)
    if why_not or not acknowledge:
        why_not = why_not or "the hourly cap of automatic mail, or the address bounced"
    return inbound.services.inbound_settle(
        record,
        mail=mail,
        outcome=Outcome.FOLLOW_UP if thread is not None else Outcome.OPENED,
        ticket=ticket,  # its first message holds the original
        follow_up_of=thread,
        auto_replied=acknowledge,
        note=f"not acknowledged: {why_not}" if why_not else "",
    )


@transaction.atomic
def take_call(
    *,
    agent: User,
    subject: str,
    description: str,
    now: datetime,
    email: str = "",
    phone: str = "",
    name: str = "",
    priority: str = Ticket.Priority.P2,
    category: str = Ticket.Category.OTHER,
) -> Ticket:
    """An agent files a ticket for a customer on the phone (critical customers are told to phone).

    1. inbound finds the caller by email, then by phone number, or creates their account from the
       email (inactive: they can activate it by signing up), and keeps a new number for next time;
    2. ``file_ticket`` with channel phone, the agent as the actor: deadlines, acknowledgment by mail,
       alerts, reports as for every ticket.

    :raises DomainError: no email for an unknown number, a number not in international format
    """
    caller = inbound.services.customer_for_caller(email=email, phone=phone, name=name)
    return file_ticket(
        requester=caller,
        actor=agent,
        subject=subject,
        description=description,
        priority=priority,
        category=category,
        channel=Ticket.Channel.PHONE,
        now=now,
    )
