"""What the desk does, one function per use case: every effect, across the apps, in order.

Each use case runs in one transaction, takes ``now`` from its caller (a view, a task,
a command) and calls each app's services by name. Reading one tells you everything
it does; nothing else runs behind it (no signals). Side effects outside the database
(mail, Slack, webhooks) are outbox rows written here and sent after commit.

The apps: ``accounts`` (users and roles), ``tickets`` (tickets, thread, timeline),
``escalation`` (SLA clock, escalations), ``notifications`` (who hears what: the
outbox, routing, templates, delivery), ``knowledge`` (articles, deflection),
``surveys`` (ratings, survey mail and links), ``reports`` (facts and daily rollup),
``incidents`` (incidents, the status page), ``monitors`` (checks of the shop, which open incidents).
Doors into the desk — the portal, the API, the console, tasks, commands and, next,
the mail gateway and chat — call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

import accounts.permissions
import chat.services
import escalation.services
import inbound.loops
import inbound.parsing
import inbound.selectors
import inbound.services
import incidents.reviews
import incidents.selectors
import incidents.services
import incidents.status
import incidents.subscriptions
import knowledge.services
import monitors.checks
import monitors.runner
import monitors.selectors
import monitors.services
import monitors.wording
import notifications.incidents
import notifications.mailthread
import notifications.review_mail
import notifications.selectors
import notifications.services
import notifications.status_mail
import reports.rollup
import surveys.services
import tickets.services
from chat.models import AgentPresence, ChatSession
from escalation.models import Escalation
from inbound.models import InboundMail
from incidents.models import Incident, IncidentAction, IncidentEvent, IncidentTicket, Review, Subscriber
from monitors.models import Monitor
from sofacover.errors import Conflict, DomainError
from surveys.models import Rating
from tickets.models import Message, Ticket, TicketCc
from tickets.uploads import CheckedUpload

Status = Ticket.Status
# Fields whose change moves the SLA clock (pauses, deadlines).
CLOCK_FIELDS = {"status", "priority", "tier"}


def in_mail_language() -> translation.override:
    """Mail, Slack and the outbox speak the desk's default language (the procedures' English), whatever the
    language of the request that queued them: a German agent's console puts no German label in a customer's mail."""
    return translation.override(settings.LANGUAGE_CODE)


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
    with in_mail_language():
        notifications.services.on_ticket_created(
            ticket=ticket, now=now, acknowledge=acknowledge, in_reply_to=in_reply_to
        )
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
        with in_mail_language():
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
        with in_mail_language():
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
    with in_mail_language():
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


# --- incidents ----------------------------------------------------------------------------------------
# The incident's own record is incidents.services; who hears of it (Slack, the escalation list, the
# customers of linked tickets, status page subscribers) is notifications.incidents, queued here in the
# same transaction. Every mail and post has a dedupe key: a retry or a second caller sends nothing twice.


def _acknowledge(incident: Incident, links: Sequence[IncidentTicket], *, now: datetime) -> None:
    """The Incident Acknowledgment to the customers of ``links``; the links whose customers were told
    (or had been, about another ticket) marked acknowledged."""
    if links:
        with in_mail_language():
            told = notifications.incidents.acknowledge(incident=incident, links=links, now=now)
        incidents.services.acknowledged(links=told, now=now)


@transaction.atomic
def declare_incident(*, declared_by: User | None, now: datetime, **fields: Any) -> Incident:
    """Declare an incident (console, API, a ticket's "declare incident", a monitor).

    1. incidents opens it: actions, timeline, the ticket it came from linked, the status page refreshed;
    2. notifications queues the procedures' Incident Declaration, every field filled, to the severity's
       Slack channel (#support-critical P0/P1, #support-general P2/P3) and in one mail to the escalation
       list (INCIDENT_ESCALATION_EMAIL), and a public incident's first update to the status page's subscribers;
    3. the customers of the ticket it was declared from get the Incident Acknowledgment; incidents marks
       the link acknowledged.
    """
    incident = incidents.services.declare(declared_by=declared_by, now=now, **fields)
    with in_mail_language():
        notifications.incidents.declared(incident=incident, now=now)
    _acknowledge(incident, list(incidents.selectors.links_of(incident)), now=now)
    return incident


@transaction.atomic
def incident_update(
    *, incident: Incident, author: User | None, body: str, now: datetime, status: str | None = None, public: bool = True
) -> IncidentEvent:
    """Post an update (a status change, what is known), or an internal note (``public=False``).

    1. incidents writes it on the timeline; a public one goes on the status page and restarts the
       update cadence;
    2. notifications posts it to the severity's Slack channel; a public update is also mailed to the
       linked tickets' customers (each address once, in its ticket's thread) and, for an incident on
       the status page, to its active subscribers who are not among them (with a one-click unsubscribe).
    """
    event = incidents.services.post_update(
        incident=incident, author=author, body=body, now=now, status=status, public=public
    )
    with in_mail_language():
        notifications.incidents.updated(incident=event.incident, event=event, public=public, now=now)
    return event


@transaction.atomic
def incident_edit(*, incident: Incident, author: User | None, now: datetime, **changes: Any) -> Incident:
    """The commander edits the incident's fields: 1. incidents applies them, all or nothing (the
    timeline says which changed). Nobody is mailed: customers hear of updates, not of edits."""
    return incidents.services.edit(incident=incident, author=author, now=now, **changes)


@transaction.atomic
def incident_action_add(*, incident: Incident, text: str, author: User | None, now: datetime) -> IncidentAction:
    """Add a line to the declaration's current actions: 1. incidents adds it (on the timeline). Nobody is told."""
    return incidents.services.action_add(incident=incident, text=text, author=author, now=now)


@transaction.atomic
def incident_action_tick(*, action: IncidentAction, done: bool, author: User | None, now: datetime) -> IncidentAction:
    """Tick a current action done (or not): 1. incidents records it (on the timeline). Nobody is told."""
    return incidents.services.action_tick(action=action, done=done, author=author, now=now)


@transaction.atomic
def incident_link(
    *, incident: Incident, tickets: Iterable[Ticket], by: User | None, now: datetime
) -> list[IncidentTicket]:
    """Link tickets to an open incident (a ticket's page, the queue's bulk action, the API).

    1. incidents records the new links on its timeline (a ticket already linked is skipped);
    2. notifications sends the new links' customers (requester and CC list) the Incident
       Acknowledgment, once per incident and address, in one write however many tickets;
       incidents marks the links acknowledged.
    """
    links = incidents.services.link(incident=incident, tickets=tickets, by=by, now=now)
    _acknowledge(incident, links, now=now)
    return links


@transaction.atomic
def incident_unlink(*, incident: Incident, ticket: Ticket, by: User | None, now: datetime) -> bool:
    """Unlink a ticket: 1. incidents removes the link (on the timeline); the ticket's customers hear
    no more of the incident and it does not resolve with it."""
    return incidents.services.unlink(incident=incident, ticket=ticket, by=by, now=now)


@transaction.atomic
def resolve_incident(*, incident: Incident, by: User, now: datetime, **fields: Any) -> Incident:
    """Resolve an incident.

    1. incidents resolves it (what happened, resolution, prevention required for P0/P1);
    2. each linked ticket still active resolves with it, its resolution note the incident's
       resolution: escalation pauses its clock, reports refreshes its fact. The ordinary ticket
       resolution notice is not sent: step 3's Resolution Notification is the customer's word on
       the same event;
    3. notifications posts the resolution to Slack, sends every linked ticket's customers the
       Resolution Notification (once per incident and address) and the status page's subscribers its
       last update; incidents marks the links told;
    4. surveys queues the satisfaction survey of each ticket resolved in step 2, after the notification
       (as after any resolution: the reports' survey response rate counts these tickets too).
    5. a P0/P1 incident's post-incident review opens, its action items due from now.
    """
    incident = incidents.services.resolve(incident=incident, by=by, now=now, **fields)
    resolved: list[Ticket] = []
    for link in incidents.selectors.links_of(incident).filter(ticket__status__in=Ticket.ACTIVE_STATUSES):
        ticket = tickets.services.ticket_resolve(
            ticket=link.ticket, actor=by, now=now, resolution_note=incident.resolution or incident.title
        )
        escalation.services.sla_follow(ticket=ticket, now=now)
        reports.rollup.facts_refresh(ticket_ids=[ticket.pk])
        resolved.append(ticket)
    event = incidents.selectors.last_event(incident, kind=IncidentEvent.Kind.RESOLVED)
    if event is not None:
        with in_mail_language():
            notifications.incidents.resolved(incident=incident, event=event, now=now)
    incidents.services.resolution_sent(incident=incident, now=now)
    for ticket in resolved:
        surveys.services.survey_send(ticket=ticket, now=now)
    if incident.severity in (Ticket.Priority.P0, Ticket.Priority.P1):
        incidents.reviews.open_review(incident=incident, now=now, opened_by=by)
    return incident


@dataclass
class IncidentSweepResult:
    warned: int = 0  # commanders warned that an update is coming due

    def __str__(self) -> str:
        return f"update warnings {self.warned}"


def incident_sweep(*, now: datetime, limit: int = 500) -> IncidentSweepResult:
    """The incident beat (every INCIDENT_SWEEP_SECONDS), each incident in its own transaction.

    1. the update cadence: for each open incident whose next update falls due before
       ``now + incidents.services.UPDATE_WARNING_LEAD`` and whose commander was not yet warned about
       that due time, incidents claims the warning (a conditional update, so two sweeps at once warn
       once) and notifications warns the commander (dashboard and email) and the severity's Slack
       channel; a new due time (an update was posted) is warned about again;
    2. (post-incident reviews: overdue action items are added here, in the same shape.)
    """
    result = IncidentSweepResult()
    lead_until = now + incidents.services.UPDATE_WARNING_LEAD
    due = incidents.selectors.updates_coming_due(lead_until=lead_until).order_by("next_update_due_at", "id")
    for incident in list(due[:limit]):
        with transaction.atomic():
            if incidents.services.update_warned(incident=incident):
                notifications.incidents.update_due(incident=incident, now=now)
                result.warned += 1
    # 2. Post-incident reviews: overdue action items go here (a claim per item, then the alert), with
    #    a field of their own on IncidentSweepResult.
    return result


# --- post-incident reviews ------------------------------------------------------------------------
# Resolving a P0/P1 incident opens its review (resolve_incident); any other, by choice. The review's
# record is incidents.reviews; who hears of an overdue action item is queued here.

REVIEW_SWEEP_BATCH = 200


@transaction.atomic
def open_review(*, incident: Incident, by: User | None, now: datetime) -> Review:
    """Open the post-incident review of a resolved incident of any severity (a P0/P1 has one already).

    1. incidents opens it with the procedures' twelve action items, due 2 h / 48 h / 1 week after the
       resolution on the severity's calendar, owned by the commander; a second call returns it.

    :raises Conflict: the incident is not resolved yet
    """
    return incidents.reviews.open_review(incident=incident, now=now, opened_by=by)


def review_sweep(*, now: datetime, limit: int = REVIEW_SWEEP_BATCH) -> int:
    """The review beat: action items past their due time, not done, alerted once each.

    A batch of items per transaction: incidents lists them (locked, ``SKIP LOCKED``: a second
    sweep at once takes the next ones) → notifications queues a dashboard item and an email to
    the owner and the incident's commander (managers when there is neither), deduplicated per
    item and due time → incidents marks them alerted. Returns how many items were alerted.
    """
    alerted = 0
    while True:
        with transaction.atomic():
            due = incidents.reviews.overdue_items(now)
            ids = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:limit])
            items = list(due.filter(pk__in=ids))
            for item in items:
                notifications.review_mail.on_review_item_overdue(item=item, now=now)
            alerted += incidents.reviews.overdue_alerted(items=items, now=now)
        if len(ids) < limit:
            return alerted


# --- status page subscriptions ------------------------------------------------------------------------
# Double opt-in: subscribing writes a pending subscriber and mails its confirmation link; only confirmed
# subscribers get updates; one click on any update's unsubscribe link ends it. The doors answer the same
# whatever the address's state, so nobody learns who is subscribed.


@transaction.atomic
def status_subscribe(*, email: str, now: datetime) -> Subscriber:
    """Someone asks for status page updates by email.

    1. incidents writes the subscriber: new, or again after unsubscribing (a new token), or as it was;
    2. notifications queues the confirmation mail, unless the address is already confirmed (once an
       hour at most for an address that asks again).

    :raises DomainError: not an email address
    """
    subscribed = incidents.subscriptions.subscribe(email=email, now=now)
    if subscribed.confirm:
        notifications.status_mail.confirmation_queue(subscriber=subscribed.subscriber, now=now)
    return subscribed.subscriber


@transaction.atomic
def status_confirm(*, token: str, now: datetime) -> Subscriber:
    """The confirmation link's button: 1. incidents confirms the subscriber; updates reach it from now on.

    :raises incidents.subscriptions.SubscriptionLinkInvalid: unknown token, or unsubscribed since
    """
    return incidents.subscriptions.confirm(token=token, now=now)


@transaction.atomic
def status_unsubscribe(*, token: str, now: datetime) -> Subscriber:
    """An update's unsubscribe link (its button, or the mail client's RFC 8058 one-click POST).

    1. incidents ends the subscription; no update is sent to it any more.

    :raises incidents.subscriptions.SubscriptionLinkInvalid: unknown token
    """
    return incidents.subscriptions.unsubscribe(token=token, now=now)


# --- uptime from the checks, for the status page and the scorecard ------------------------------------
# incidents (the status page) and reports (the scorecard) never import monitors: what the checks saw is
# handed to incidents as data, per component and desk day, which both read.

STATUS_UPTIME_DAYS = 2  # a refresh recounts today and yesterday; older days no longer change


@transaction.atomic
def status_uptime_refresh(*, now: datetime, days: int = STATUS_UPTIME_DAYS) -> int:
    """Recount the uptime checks of the last ``days`` desk days for the status page and the scorecard.

    1. monitors counts each component's HTTP checks and failures per desk day (raw results, minute
       and hour rollups alike);
    2. incidents stores them (``CheckedUptime``), dropping days no check counts any more, and the
       status page's snapshot is rebuilt on commit.

    The beat runs it every STATUS_UPTIME_SECONDS; ``manage.py status_uptime_refresh --days 90``
    fills the whole history. Returns how many component-days are stored.
    """
    rows = monitors.selectors.component_day_counts(days=days, now=now)
    last = incidents.status.desk_day(now)
    return incidents.status.checked_uptime_record(rows, first=last - timedelta(days=days - 1), last=last, now=now)


# --- monitors -----------------------------------------------------------------------------------------
# A monitor is a door that opens incidents: the runner (monitors.runner) runs the checks that fall due
# and hands each result to ``monitor_checked``; what the incident is told is decided by monitors' rules.


def monitor_checks(*, now: datetime, limit: int | None = None) -> monitors.runner.RunResult:
    """Every check due at ``now``, run to the end (``manage.py run_monitors --once``, tests): monitors
    claims them and runs them; each result is ``monitor_checked``, in its own transaction. The beat
    and ``run_monitors`` keep a runner going instead (``monitors.runner.run_loop(monitor_checked)``)."""
    return monitors.runner.run_due(now=now, record=monitor_checked, limit=limit)


@transaction.atomic
def monitor_checked(
    *,
    monitor_id: int,
    token: str,
    scheduled_at: datetime,
    ran_at: datetime,
    outcome: monitors.checks.Outcome,
    now: datetime,
) -> monitors.services.Verdict:
    """One check's result.

    1. monitors records it (once per slot, only under its runner's claim) and applies the rules:
       consecutive failures and passes, the state, the flapping hold;
    2. the failure rule fired: ``monitor_failed``; the recovery rule: ``monitor_recovered``.
    """
    verdict = monitors.services.result_record(
        monitor_id=monitor_id, token=token, scheduled_at=scheduled_at, ran_at=ran_at, outcome=outcome, now=now
    )
    if verdict.monitor is not None and verdict.tell == Monitor.Told.FAILING:
        monitor_failed(monitor=verdict.monitor, now=now)
    elif verdict.monitor is not None and verdict.tell == Monitor.Told.RECOVERED:
        monitor_recovered(monitor=verdict.monitor, now=now)
    return verdict


@transaction.atomic
def monitor_failed(*, monitor: Monitor, now: datetime) -> Incident:
    """A monitor's failure rule fired (N failed checks in a row).

    1. its open incident (one per monitor, by ``monitor_key``) is updated: one in monitoring goes back
       to investigating with a public update, any other gets an internal note; with none open,
       ``declare_incident`` opens one of the monitor's severity on its component, started at the
       first failed check and detected now, when the rule fired (MTTD = detected - started);
    2. notifications tells #launch-monitoring and the managers' dashboards (once per outage).
    """
    text = monitors.wording.failure(monitor)
    incident = monitors.selectors.open_incident_for(monitor)
    if incident is None:
        try:
            incident = declare_incident(
                declared_by=None,
                now=now,
                severity=monitor.severity,
                title=text.title,
                impact=text.impact,
                started_at=min(monitor.failing_since or now, now),
                detected_at=now,
                components=[monitor.component] if monitor.component_id and monitor.component else [],
                source=Incident.Source.MONITOR,
                public=monitor.incident_public,
                public_message=text.public_message,
                monitor_key=monitor.monitor_key,
            )
        except Conflict:  # opened meanwhile under the same key: update that one
            incident = monitors.selectors.open_incident_for(monitor)
            if incident is None:
                raise
            incident_update(incident=incident, author=None, body=text.note, now=now, public=False)
    elif incident.status == Incident.Status.MONITORING:
        incident_update(incident=incident, author=None, body=text.again, now=now, status=Incident.Status.INVESTIGATING)
    else:
        incident_update(incident=incident, author=None, body=text.note, now=now, public=False)
    notifications.services.system_alert(
        subject=monitors.wording.alert_subject(monitor, down=True),
        body=f"{incident.reference}: {text.impact}",
        key=f"monitor:{monitor.pk}:down:{(monitor.failing_since or now).isoformat()}",
        now=now,
    )
    return incident


@transaction.atomic
def monitor_recovered(*, monitor: Monitor, now: datetime) -> Incident | None:
    """A monitor's recovery rule fired (M passed checks in a row after it failed).

    1. its open incident moves to monitoring, with a public update saying since when it works
       (one already resolved by the desk stays resolved);
    2. notifications tells #launch-monitoring and the managers' dashboards.
    """
    incident = monitors.selectors.open_incident_for(monitor)
    if incident is not None and incident.status != Incident.Status.MONITORING:
        incident_update(
            incident=incident,
            author=None,
            body=monitors.wording.recovery(monitor),
            now=now,
            status=Incident.Status.MONITORING,
        )
    notifications.services.system_alert(
        subject=monitors.wording.alert_subject(monitor, down=False),
        body=(f"{incident.reference}: " if incident else "") + monitors.wording.recovery(monitor),
        key=f"monitor:{monitor.pk}:up:{(monitor.state_changed_at or now).isoformat()}",
        now=now,
    )
    return incident


# --- Merge and split ---------------------------------------------------------------------------------


@transaction.atomic
def merge_tickets(
    *, source: Ticket, target: Ticket, actor: User, now: datetime, other_customer_confirmed: bool = False
) -> Ticket:
    """An agent merges the duplicate ``source`` into ``target``, the survivor; returns the survivor.

    1. tickets moves the source's request, messages (with their attachments) and CC addresses to the
       target, copies a different customer of the source on it, closes the source pointing at the
       target, and notes it on both timelines (refusing a merge into itself, into or from a merged or
       closed ticket, one outside the agent's scope, or another customer's without confirmation);
    2. incidents moves the source's incident links to the target;
    3. escalation stops the source's clocks (it is closed);
    4. the source's customer is told once: a public note on the target (``reply``: the target's
       customer and CCs are mailed through notifications, the target's clock follows);
    5. reports refreshes both facts.
    """
    source, target = tickets.services.ticket_merge(
        source=source, target=target, actor=actor, now=now, other_customer_confirmed=other_customer_confirmed
    )
    incidents.services.links_move(source=source, target=target, by=actor, now=now)
    escalation.services.sla_follow(ticket=source, now=now)
    reply(
        ticket=target,
        author=actor,
        body=gettext(
            "Your request %(source)s (“%(subject)s”) is the same matter as this one, so we merged it into "
            "%(target)s: we carry on here, and every reply about it comes from this ticket."
        )
        % {"source": source.reference, "subject": source.subject, "target": target.reference},
        now=now,
    )
    reports.rollup.facts_refresh(ticket_ids=[source.pk, target.pk])
    target.refresh_from_db()
    return target


@transaction.atomic
def split_message(*, message: Message, actor: User, now: datetime, subject: str) -> Ticket:
    """An agent splits a message off into a new ticket of the same customer; returns the new ticket.

    1. tickets checks the split (an agent in scope, an open ticket, a subject);
    2. ``file_ticket`` opens the new ticket as any channel does (deadlines planned by escalation, the
       customer's acknowledgment, reports' fact), with the old ticket's priority, category, tier and channel;
    3. tickets moves the message (its attachments follow) and notes the split on both timelines;
    4. reports refreshes the old ticket's fact.
    """
    ticket, subject = tickets.services.split_check(message=message, actor=actor, subject=subject)
    new = file_ticket(
        requester=ticket.requester,
        subject=subject,
        description=gettext("Split from %(reference)s.") % {"reference": ticket.reference},
        now=now,
        actor=actor,
        priority=ticket.priority,
        category=ticket.category,
        channel=ticket.channel,
        tier=ticket.tier,
    )
    tickets.services.message_move(message=message, source=ticket, target=new, actor=actor, now=now)
    reports.rollup.facts_refresh(ticket_ids=[ticket.pk, new.pk])
    return new


# Live chat ---------------------------------------------------------------------------------------------
# A chat is a ticket of channel chat from its first message (file_ticket); the session beside it
# (chat.services) keeps only what is live: the queue, who took it, read marks. Its doors are chat's
# consumer and pages, which get these use cases from the wiring (sofacover.asgi, sofacover.urls).
# Each change to the queue is told to the console's queue pages once its transaction has committed
# (``transaction.on_commit``: never a change rolled back; robust: a channel layer that is down costs the
# pages a live update, not the change): chat.services builds the event inside it, ``queue_publish`` sends it.

CHAT_SUBJECT_CHARS = 80


def _chat_visitor(*, visitor: User | None, name: str, email: str) -> User:
    """The signed-in customer, or the anonymous visitor's account found or created by email (as a call's)."""
    if visitor is None:
        if not email.strip():
            raise DomainError(gettext("Give your email address, so we can reply."), field="email")
        if not name.strip():
            raise DomainError(gettext("Give your name."), field="name")
        visitor = inbound.services.customer_for_caller(email=email, name=name)
    if accounts.permissions.is_agent(visitor):
        raise chat.services.NotAllowed(gettext("Desk accounts sign in to chat: they do not start chats as visitors."))
    return visitor


def _chat_subject(prefix: str, body: str) -> str:
    first = " ".join(body.split())
    if not first:
        raise DomainError(gettext("Write a message."), field="body")
    if len(first) > CHAT_SUBJECT_CHARS:
        first = first[: CHAT_SUBJECT_CHARS - 1] + "…"
    return f"{prefix}: {first}"


@transaction.atomic
def chat_start(
    *, body: str, now: datetime, visitor: User | None = None, name: str = "", email: str = ""
) -> ChatSession:
    """A visitor opens a live chat with their first message.

    1. the customer: the signed-in one, or the account of the visitor's email, found or created
       inactive (as for a phone call: ``inbound.services.customer_for_caller``); desk accounts refused;
    2. ``file_ticket`` with channel chat, the first message as its description (no acknowledgment
       mail: the desk answers on the chat), so deadlines, timeline and reports start now;
    3. chat queues the session for the ticket's tier, by arrival;
    4. after commit, chat tells the console's queue pages a chat is waiting (``queue_publish``).
    """
    chat.services.message_check(body)
    customer = _chat_visitor(visitor=visitor, name=name, email=email)
    ticket = file_ticket(
        requester=customer,
        subject=_chat_subject("Chat", body),
        description=body,
        channel=Ticket.Channel.CHAT,
        acknowledge=False,
        now=now,
    )
    session = chat.services.session_open(ticket=ticket, visitor=customer, now=now)
    queued = chat.services.queue_changed("started", session=session, now=now)
    transaction.on_commit(lambda: chat.services.queue_publish(queued), robust=True)
    return session


@transaction.atomic
def chat_leave_message(
    *, body: str, now: datetime, visitor: User | None = None, name: str = "", email: str = ""
) -> Ticket:
    """Outside business hours, or with every agent away, the widget takes a message: an ordinary
    ticket of channel chat (``file_ticket``, acknowledged by mail), with no live session."""
    chat.services.message_check(body)
    customer = _chat_visitor(visitor=visitor, name=name, email=email)
    return file_ticket(
        requester=customer,
        subject=_chat_subject("Chat message", body),
        description=body,
        channel=Ticket.Channel.CHAT,
        now=now,
    )


@transaction.atomic
def chat_accept(*, session: ChatSession, agent: User, now: datetime) -> ChatSession:
    """An agent takes a waiting chat: chat's conditional update decides between agents accepting at
    once (the other gets a Conflict) → ``assign`` gives the ticket to the agent → after commit, the
    console's queue pages hear it was taken (``queue_publish``)."""
    session = chat.services.session_accept(session=session, agent=agent, now=now)
    assign(ticket=session.ticket, assignee=agent, actor=agent, now=now)
    queued = chat.services.queue_changed("accepted", session=session, now=now)
    transaction.on_commit(lambda: chat.services.queue_publish(queued), robust=True)
    return session


@transaction.atomic
def chat_transfer(
    *, session: ChatSession, by: User, now: datetime, to_agent: User | None = None, to_tier: int | None = None
) -> ChatSession:
    """Hand the chat to another available agent (``assign``), or back to the queue of a tier
    (``change``: the ticket's tier, unassigned; its tier clock restarts) → after commit, the console's
    queue pages hear where it went (``queue_publish``)."""
    session = chat.services.session_transfer(session=session, by=by, now=now, to_agent=to_agent, to_tier=to_tier)
    if to_agent is not None:
        assign(ticket=session.ticket, assignee=to_agent, actor=by, now=now)
    else:
        change(ticket=session.ticket, actor=by, now=now, tier=session.tier, assignee=None)
    queued = chat.services.queue_changed("transferred", session=session, now=now)
    transaction.on_commit(lambda: chat.services.queue_publish(queued), robust=True)
    return session


@transaction.atomic
def chat_escalate(*, session: ChatSession, by: User, now: datetime, priority: str, category: str) -> Ticket:
    """At any time, the agent makes the chat's ticket the priority and category it deserves (``change``:
    deadlines replanned, alerts routed by the new priority on the next sweep); the chat goes on."""
    return change(ticket=session.ticket, actor=by, now=now, priority=priority, category=category)


@transaction.atomic
def chat_message(*, session: ChatSession, author: User, body: str, now: datetime, internal: bool = False) -> Message:
    """A line of the chat: a public message of either side, or an agent's whisper (an internal note).

    1. chat checks the line (size; a live chat; a public line from the desk only by the agent who has it);
    2. tickets adds it to the thread (the agent's first public line answers the ticket: first response);
    3. for a public line, escalation: pauses follow the status, deadlines replanned;
    4. reports refreshes the fact.
    Steps 3 and 4 read only the ticket (with its pauses, escalations, breaches, events of status and
    rating, which a line moves only with the status): a line that left every field of the ticket but
    ``updated_at`` as it was (a customer's line on an open ticket, a whisper; most lines of a chat)
    moves neither, and they are skipped (5 statements of a line's 10).
    While the chat is live nobody is mailed (both sides are on it); a line after it ended is an
    ordinary ``reply``, mailed as any.
    """
    session = chat.services.message_allowed(session=session, author=author, body=body, internal=internal)
    if session.state == ChatSession.State.ENDED:
        return reply(ticket=session.ticket, author=author, body=body, now=now, internal=internal)
    before = session.ticket  # read under its lock by message_allowed: what the line starts from
    message = tickets.services.message_add(ticket=before, author=author, body=body, now=now, internal=internal)
    after = message.ticket
    if any(
        getattr(before, field.attname) != getattr(after, field.attname)
        for field in after._meta.concrete_fields
        if field.attname != "updated_at"
    ):
        if not internal:
            escalation.services.sla_follow(ticket=after, now=now)
        reports.rollup.facts_refresh(ticket_ids=[after.pk])
    return message


@transaction.atomic
def chat_end(*, session: ChatSession, by: User, now: datetime, resolve_note: str | None = None) -> ChatSession:
    """Either side ends the chat; its ticket stays open for follow-up, unless the agent resolves it
    too (``resolve``, with ``resolve_note``: the resolution mail and the satisfaction survey); after
    commit, the console's queue pages hear it ended (``queue_publish``)."""
    session = chat.services.session_end(session=session, by=by, now=now)
    if resolve_note is not None:
        resolve(ticket=session.ticket, actor=by, now=now, resolution_note=resolve_note)
    queued = chat.services.queue_changed("ended", session=session, now=now)
    transaction.on_commit(lambda: chat.services.queue_publish(queued), robust=True)
    return session


@transaction.atomic
def chat_availability(*, agent: User, available: bool, now: datetime) -> AgentPresence:
    """An agent sets themselves available for chats, or away: chat records it (whether the widget is
    open follows) → after commit, the console's queue pages hear it (``queue_publish``)."""
    presence = chat.services.presence_set(agent=agent, available=available, now=now)
    queued = chat.services.queue_availability(presence, now=now)
    transaction.on_commit(lambda: chat.services.queue_publish(queued), robust=True)
    return presence
