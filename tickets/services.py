"""Every state change of a ticket. Views, the admin, the API and tasks call these.

Each function takes ``now`` from its caller, runs in one transaction, locks the
ticket row it changes, writes the timeline event beside the change, and raises
a DomainError (nothing written) when a rule refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from accounts.auth import normalise_email
from sofacover.dbutil import insert_many, update_many
from sofacover.errors import Conflict, DomainError

from . import permissions, selectors
from .models import Attachment, Message, Ticket, TicketCc, TicketEvent
from .uploads import CheckedUpload

Status = Ticket.Status


class InvalidTransition(Conflict):
    code = "invalid_transition"


class TicketClosed(Conflict):
    code = "ticket_closed"


class TicketMerged(Conflict):
    """Writing on a ticket merged into another: the message names the survivor, where it belongs."""

    code = "ticket_merged"


class MergeRefused(DomainError):
    code = "merge_refused"


class SplitRefused(DomainError):
    code = "split_refused"


class NotAllowed(DomainError):
    code = "not_allowed"
    http_status = 403


class OutsideYourTier(NotAllowed):
    """An agent changing a ticket above their tier that is not assigned to them (queue scoping)."""

    code = "outside_your_tier"


class ResolutionNoteRequired(DomainError):
    """An agent resolving a P0/P1 says what was done: the customer's resolution mail quotes it."""

    code = "resolution_note_required"


class CcRefused(DomainError):
    code = "cc_refused"


# Which status may follow which. "new" is only ever the first status.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


def transition_allowed(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, frozenset())


def transition_or_raise(ticket: Ticket, *, to: str) -> None:
    if not transition_allowed(ticket.status, to):
        raise InvalidTransition(
            gettext("A %(current)s ticket cannot become %(status)s.")
            % {"current": Status(ticket.status).label.lower(), "status": Status(to).label.lower()},
            field="status",
        )


# --- tickets ----------------------------------------------------------------


def _event(
    ticket: Ticket,
    *,
    actor: User | None,
    kind: str,
    now: datetime,
    field: str = "",
    old: Any = "",
    new: Any = "",
    internal: bool = False,
) -> TicketEvent:
    """A timeline event, not saved yet: a change writing several saves them in one statement."""
    return TicketEvent(
        ticket=ticket,
        actor=actor,
        kind=kind,
        field=field,
        old_value="" if old is None else str(old)[:200],
        new_value="" if new is None else str(new)[:200],
        internal=internal,
        at=now,
    )


def _record(
    ticket: Ticket,
    *,
    actor: User | None,
    kind: str,
    now: datetime,
    field: str = "",
    old: Any = "",
    new: Any = "",
    internal: bool = False,
) -> TicketEvent:
    """Write one timeline event."""
    event = _event(ticket, actor=actor, kind=kind, now=now, field=field, old=old, new=new, internal=internal)
    event.save()
    return event


def _locked(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent changes queue instead of overwriting."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _store_attachments(
    message: Message, uploads: Sequence[CheckedUpload], *, actor: User, now: datetime
) -> list[TicketEvent]:
    """Store the files and write their rows (one statement); return their timeline events, for the
    caller to write with its own."""
    attachments = []
    for upload in uploads:
        attachment = Attachment(
            message=message,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            created_at=now,
        )
        attachment.file.save(upload.filename, upload.file, save=False)
        attachments.append(attachment)
    Attachment.objects.bulk_create(attachments)
    return [
        _event(
            message.ticket,
            actor=actor,
            kind=TicketEvent.Kind.ATTACHMENT_ADDED,
            now=now,
            new=attachment.filename,
            internal=message.internal,
        )
        for attachment in attachments
    ]


def _clean(ticket: Ticket) -> None:
    try:
        # Field checks only (choices, lengths): the database's own constraints guard the
        # rest, and model-level constraint validation would cost a query per constraint.
        ticket.clean_fields(exclude=["requester", "assignee", "reference", "queue_rank"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=field) from exc


# The ticket's deadline columns: escalation plans them, tickets only stores them.
SLA_COLUMNS = (
    "first_response_due_at",
    "resolution_due_at",
    "next_update_due_at",
    "tier_response_due_at",
    "first_response_warn_at",
    "resolution_warn_at",
    "sla_next_check_at",
)


# No savepoint of its own: its caller, the file_ticket use case, rolls everything back on any error.
@transaction.atomic(savepoint=False)
def ticket_open(
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
    sla: Mapping[str, datetime | None] | None = None,
) -> Ticket:
    """File a ticket for ``requester``; the description becomes the first message of the thread.

    ``sla``: the first deadlines (SLA_COLUMNS), planned by the caller before the ticket
    exists, so the row is written with them instead of updated after.
    """
    if sla and not set(sla) <= set(SLA_COLUMNS):
        raise DomainError(
            gettext("Not deadline columns: %(names)s.") % {"names": ", ".join(sorted(set(sla) - set(SLA_COLUMNS)))}
        )
    actor = actor or requester
    if assignee is not None and not permissions.can_be_assigned(assignee):
        raise DomainError(gettext_lazy("Tickets can only be assigned to support agents."), field="assignee")
    ticket = Ticket(
        subject=subject.strip(),
        description=description.strip(),
        priority=priority,
        category=category,
        channel=channel,
        tier=tier,
        requester=requester,
        assignee=assignee,
        status=Status.NEW,
        created_at=now,
        updated_at=now,
        tier_entered_at=now,
        **(sla or {}),
    )
    _clean(ticket)
    ticket.save()  # the database derives the reference and returns it with the primary key
    events = [_event(ticket, actor=actor, kind=TicketEvent.Kind.CREATED, now=now, new=ticket.priority)]
    if attachments:
        message = Message.objects.create(
            ticket=ticket,
            author=requester,
            body="Attached with the request.",
            internal=False,
            by_agent=False,
            created_at=now,
        )
        events += _store_attachments(message, attachments, actor=actor, now=now)
    TicketEvent.objects.bulk_create(events)
    return ticket


# Priorities whose resolution an agent must explain (the resolution mail's "Resolution").
RESOLUTION_NOTE_PRIORITIES = (Ticket.Priority.P0, Ticket.Priority.P1)
RESOLUTION_NOTE_MAX = 5000


def resolution_note_required(*, priority: str, actor: User | None) -> bool:
    """Whether resolving a ticket of ``priority`` needs a note: when an agent resolves a P0 or P1.

    A requester marking their own ticket solved writes none; the console's form asks the same question.
    """
    return actor is not None and priority in RESOLUTION_NOTE_PRIORITIES and permissions.can_work_ticket(actor)


STATUS_FIELDS = ["status", "resolved_at", "resolution_note", "closed_at", "updated_at"]


def _status_change(
    ticket: Ticket,
    *,
    to: str,
    actor: User | None,
    now: datetime,
    kind: str | None = None,
    resolution_note: str | None = None,
) -> TicketEvent:
    """Move the ticket to ``to`` in memory (the caller saves ``STATUS_FIELDS``); its timeline event, not saved yet.

    A resolution keeps its note (required from agents on a P0/P1).

    :raises ResolutionNoteRequired: an agent resolving a P0/P1 without a note
    """
    transition_or_raise(ticket, to=to)
    old = ticket.status
    ticket.status = to
    if to == Status.RESOLVED:
        note = (resolution_note or "").strip()
        if not note and resolution_note_required(priority=ticket.priority, actor=actor):
            raise ResolutionNoteRequired(
                gettext("Say how this %(priority)s ticket was resolved: the resolution note is sent to the customer.")
                % {"priority": ticket.priority},
                field="resolution_note",
            )
        ticket.resolved_at, ticket.resolution_note = now, note[:RESOLUTION_NOTE_MAX]
    elif to == Status.CLOSED:
        ticket.closed_at = now
    elif old == Status.RESOLVED:
        # Reopened: the next resolution is the one that counts, with a note of its own.
        ticket.resolved_at, ticket.resolution_note = None, ""
    ticket.updated_at = now
    return _event(
        ticket, actor=actor, kind=kind or TicketEvent.Kind.STATUS_CHANGED, now=now, field="status", old=old, new=to
    )


def _set_status(
    ticket: Ticket,
    *,
    to: str,
    actor: User | None,
    now: datetime,
    kind: str | None = None,
    resolution_note: str | None = None,
) -> None:
    """Move the ticket to ``to`` and write it, with its timeline event (``_status_change``)."""
    event = _status_change(ticket, to=to, actor=actor, now=now, kind=kind, resolution_note=resolution_note)
    ticket.save(update_fields=STATUS_FIELDS)
    event.save()


def outside_scope_message(ticket: Ticket) -> str:
    """What an agent is told about a ticket above their tier: in a refusal, and on its console page."""
    return (
        f"{ticket.reference} is in Tier {ticket.tier}, above yours: you can read it, but changing it "
        "(replies, notes, status, priority, tier, assignee, escalation) needs it assigned to you, or a manager."
    )


def ticket_check_may_change(*, ticket: Ticket, actor: User, customer_may: bool = False) -> None:
    """Refuse a change ``actor`` may not make to ``ticket``; pass the ticket as read under its row lock.

    Agents change tickets in their scope (permissions.can_change_ticket: their tier
    and below, tickets assigned to them; managers and admins everything). Customers
    change only their own ticket, and only where ``customer_may`` (reply, resolve, reopen).

    :raises OutsideYourTier: an agent, on a ticket above their tier not assigned to them
    :raises NotAllowed: a customer, on what is not theirs to change
    """
    if permissions.can_work_ticket(actor):
        if not permissions.can_change_ticket(actor, ticket):
            raise OutsideYourTier(outside_scope_message(ticket))
        return
    if not customer_may or ticket.requester_id != actor.pk:
        raise NotAllowed(gettext_lazy("You may not change this ticket."))


@transaction.atomic
def ticket_change_status(
    *, ticket: Ticket, to: str, actor: User, now: datetime, resolution_note: str | None = None
) -> Ticket:
    """Move a ticket to ``to`` if the transition is allowed (to resolved: with its note).

    :raises InvalidTransition: if ``to`` may not follow the current status
    :raises ResolutionNoteRequired: an agent resolving a P0/P1 without a note
    """
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor)
    _set_status(ticket, to=to, actor=actor, now=now, resolution_note=resolution_note)
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket: Ticket, actor: User, now: datetime, resolution_note: str = "") -> Ticket:
    """Resolve: agents (with a note for the customer, required on a P0/P1), or the requester
    marking their own ticket solved.

    :raises ResolutionNoteRequired: an agent resolving a P0/P1 without a note
    """
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor, customer_may=True)
    _set_status(ticket, to=Status.RESOLVED, actor=actor, now=now, resolution_note=resolution_note)
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: User, now: datetime) -> Ticket:
    """Reopen a resolved ticket: agents, or its requester. Closed tickets stay closed."""
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor, customer_may=True)
    if ticket.status != Status.RESOLVED:
        raise InvalidTransition(
            gettext("Only resolved tickets can be reopened; this one is %(status)s.")
            % {"status": Status(ticket.status).label.lower()},
            field="status",
        )
    _set_status(ticket, to=Status.OPEN, actor=actor, now=now, kind=TicketEvent.Kind.REOPENED)
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: User, now: datetime) -> Ticket:
    """Give the ticket to an agent (or to nobody)."""
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor)
    return _assign(ticket, assignee=assignee, actor=actor, now=now)


def _assign(ticket: Ticket, *, assignee: User | None, actor: User, now: datetime) -> Ticket:
    if assignee is not None and not permissions.can_be_assigned(assignee):
        raise DomainError(gettext_lazy("Tickets can only be assigned to support agents."), field="assignee")
    if ticket.status == Status.CLOSED:
        raise TicketClosed(gettext_lazy("This ticket is closed."))
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    old = ticket.assignee.username if ticket.assignee else ""
    ticket.assignee = assignee
    ticket.updated_at = now
    ticket.save(update_fields=["assignee", "updated_at"])
    _record(
        ticket,
        actor=actor,
        kind=TicketEvent.Kind.ASSIGNED,
        now=now,
        field="assignee",
        old=old,
        new=assignee.username if assignee else "",
    )
    return ticket


# Timeline kinds other apps may write through timeline_record (their own records
# stay in their apps; the ticket's timeline tells the story in one place).
EXTERNAL_KINDS = {TicketEvent.Kind.RUNBOOK_ATTACHED, TicketEvent.Kind.RUNBOOK_STEP}


@transaction.atomic
def timeline_record(
    *, ticket: Ticket, actor: User | None, kind: str, now: datetime, new: str = "", old: str = "", internal: bool = True
) -> TicketEvent:
    """Write an event another app owns (a runbook step ticked, say) into the ticket's timeline.

    An annotation like any other: a person may write it only on a ticket they may change.
    """
    if kind not in EXTERNAL_KINDS:
        raise DomainError(gettext("“%(kind)s” events are written by the ticket services themselves.") % {"kind": kind})
    if actor is not None:
        ticket_check_may_change(ticket=_locked(ticket), actor=actor)
    return _record(ticket, actor=actor, kind=kind, now=now, old=old, new=new, internal=internal)


@transaction.atomic
def ticket_move_to_tier(*, ticket: Ticket, tier: int, actor: User | None, now: datetime) -> Ticket:
    """Move the ticket to ``tier``; that tier's response clock starts now.

    Used by escalation (automatic and manual); the caller records why.
    """
    ticket = _locked(ticket)
    event = tier_change(ticket, tier=tier, actor=actor, now=now)
    if event is not None:
        tier_changes_save([event], now=now)
    return ticket


TIER_FIELDS = ["tier", "tier_entered_at", "updated_at"]


def tier_change(ticket: Ticket, *, tier: int, actor: User | None, now: datetime) -> TicketEvent | None:
    """Move a ticket the caller holds locked to ``tier``, in memory; return its unsaved timeline event.

    None when the ticket is already there. The SLA sweep moves a batch of tickets this
    way and writes them with tier_changes_save() in a few statements.
    """
    if ticket.status == Status.CLOSED:
        raise TicketClosed(gettext_lazy("This ticket is closed."))
    if tier not in Ticket.Tier.values:
        raise DomainError(gettext("There is no tier %(tier)s.") % {"tier": tier}, field="tier")
    if ticket.tier == tier:
        return None
    old = ticket.tier
    ticket.tier, ticket.tier_entered_at, ticket.updated_at = tier, now, now
    return TicketEvent(
        ticket=ticket,
        actor=actor,
        kind=TicketEvent.Kind.TIER_CHANGED,
        field="tier",
        old_value=str(old),
        new_value=str(tier),
        at=now,
    )


def tier_changes_save(events: Sequence[TicketEvent], *, now: datetime, tickets_written: bool = False) -> None:
    """Write what tier_change() did: the tickets' tier columns, then the timeline events.

    ``tickets_written``: the caller has written the tickets' TIER_FIELDS itself (with its own columns).
    """
    if not events:
        return
    if not tickets_written:
        update_many(list({event.ticket.pk: event.ticket for event in events}.values()), TIER_FIELDS)
    insert_many(events)  # nobody reads their ids back


UPDATABLE = {
    "subject": TicketEvent.Kind.SUBJECT_CHANGED,
    "priority": TicketEvent.Kind.PRIORITY_CHANGED,
    "tier": TicketEvent.Kind.TIER_CHANGED,
    "category": TicketEvent.Kind.CATEGORY_CHANGED,
}


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: User, now: datetime, **changes: Any) -> Ticket:
    """Apply an agent's edits (subject, priority, tier, category, status, assignee) all or nothing.

    Whether the agent may is decided once, on the ticket as it was before the edits.
    ``resolution_note`` goes with resolving (required on a P0/P1), or corrects the note of a
    resolved ticket.

    :raises ResolutionNoteRequired: resolving a P0/P1 without a note
    :raises DomainError: a resolution note for a ticket that is neither resolved nor being resolved
    """
    unknown = set(changes) - {*UPDATABLE, "status", "assignee", "resolution_note"}
    if unknown:
        raise DomainError(gettext("These fields cannot be changed: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(gettext_lazy("This ticket is closed and can no longer be changed."))
    dirty: list[tuple[str, Any, Any]] = []
    for field in UPDATABLE:
        if field in changes and changes[field] != getattr(ticket, field):
            dirty.append((field, getattr(ticket, field), changes[field]))
            setattr(ticket, field, changes[field])
    if dirty:
        _clean(ticket)
        ticket.updated_at = now
        fields = [field for field, _, _ in dirty] + ["updated_at"]
        if any(field == "tier" for field, _, _ in dirty):
            ticket.tier_entered_at = now
            fields.append("tier_entered_at")
        ticket.save(update_fields=fields)
        for field, old, new in dirty:
            _record(ticket, actor=actor, kind=UPDATABLE[field], now=now, field=field, old=old, new=new)
    if "assignee" in changes:
        ticket = _assign(ticket, assignee=changes["assignee"], actor=actor, now=now)
    note = changes.get("resolution_note")
    if "status" in changes and changes["status"] != ticket.status:
        if ticket.status == Status.RESOLVED and changes["status"] == Status.OPEN:
            _set_status(ticket, to=Status.OPEN, actor=actor, now=now, kind=TicketEvent.Kind.REOPENED)
        else:
            _set_status(ticket, to=changes["status"], actor=actor, now=now, resolution_note=note)
    elif note is not None and (note.strip() != ticket.resolution_note):
        if ticket.status != Status.RESOLVED:
            raise DomainError(
                gettext("A resolution note goes with resolving the ticket: set the status to resolved."),
                field="resolution_note",
            )
        if not note.strip() and resolution_note_required(priority=ticket.priority, actor=actor):
            raise ResolutionNoteRequired(
                gettext("A resolved %(priority)s ticket keeps its resolution note.") % {"priority": ticket.priority},
                field="resolution_note",
            )
        ticket.resolution_note, ticket.updated_at = note.strip()[:RESOLUTION_NOTE_MAX], now
        ticket.save(update_fields=["resolution_note", "updated_at"])
    return ticket


# No savepoint of its own: its caller, the reply use case, rolls everything back on any error.
@transaction.atomic(savepoint=False)
def message_add(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    now: datetime,
    internal: bool = False,
    attachments: Sequence[CheckedUpload] = (),
) -> Message:
    """Add a reply or an internal note, applying the thread's rules.

    - only agents write internal notes;
    - the first public reply by an agent sets first_responded_at and opens a new ticket;
    - a customer reply reopens a resolved ticket and answers a pending one;
    - someone copied on the ticket (its CC list) may answer its public replies, never write a note;
    - nobody writes on a closed ticket.
    """
    by_agent = permissions.can_work_ticket(author)
    copied = (
        not by_agent
        and ticket.requester_id != author.pk
        and selectors.is_copied(ticket=ticket, email=author.email or author.username)
    )
    if not by_agent and ticket.requester_id != author.pk and not copied:
        raise NotAllowed(gettext_lazy("You may not write on this ticket."))
    if internal and not by_agent:
        raise NotAllowed(gettext_lazy("Only support agents can write internal notes."), field="internal")
    body = body.strip()
    if not body and not attachments:
        raise DomainError(gettext_lazy("Write a message or attach a file."), field="body")
    ticket = _locked(ticket)
    if ticket.merged_into_id is not None:
        raise TicketMerged(merged_message(ticket))
    if by_agent:
        ticket_check_may_change(ticket=ticket, actor=author)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(gettext_lazy("This ticket is closed. Please open a new ticket."))
    message = Message.objects.create(
        ticket=ticket, author=author, body=body, internal=internal, by_agent=by_agent, created_at=now
    )
    events = [
        _event(
            ticket,
            actor=author,
            kind=TicketEvent.Kind.NOTE_ADDED if internal else TicketEvent.Kind.REPLIED,
            now=now,
            internal=internal,
        ),
        *_store_attachments(message, attachments, actor=author, now=now),
    ]
    # What the message changes on the ticket, written in one UPDATE, its events in one INSERT.
    ticket.updated_at = now
    fields = ["updated_at"]
    if not internal and by_agent:
        ticket.last_agent_reply_at = now
        fields.append("last_agent_reply_at")
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            fields.append("first_responded_at")
    if not internal:
        moved = None  # the status the message moves: opened, reopened, answered
        if by_agent:
            if ticket.status == Status.NEW:
                moved = _status_change(ticket, to=Status.OPEN, actor=author, now=now)
        elif ticket.status == Status.RESOLVED:
            moved = _status_change(ticket, to=Status.OPEN, actor=author, now=now, kind=TicketEvent.Kind.REOPENED)
        elif ticket.status == Status.PENDING_CUSTOMER:
            moved = _status_change(ticket, to=Status.OPEN, actor=author, now=now)
        if moved is not None:
            events.append(moved)
            fields += [name for name in STATUS_FIELDS if name not in fields]
    ticket.save(update_fields=fields)
    TicketEvent.objects.bulk_create(events)
    message.ticket = ticket
    return message


# --- CCs: who else gets the public replies ---

MAX_CCS = 20


def _desk_address(address: str) -> bool:
    """The desk's own mailboxes (the From address, the reply address and its +reference forms):
    copying the desk on its own mail would loop."""
    ours = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(), settings.NOTIFY_X_LOOP.lower()}
    local, _, domain = settings.NOTIFY_REPLY_ADDRESS.lower().partition("@")
    their_local, _, their_domain = address.partition("@")
    return address in ours or (their_domain == domain and their_local.split("+")[0] == local)


def _cc_address(ticket: Ticket, email: str) -> str:
    """``email`` as the CC list keeps it.

    :raises CcRefused: not an email address, the requester's own, or one of the desk's
    """
    address = normalise_email(email)
    try:
        validate_email(address)
    except ValidationError as exc:
        raise CcRefused(gettext_lazy("Enter a valid email address."), field="email") from exc
    if address == normalise_email(ticket.requester.email or ticket.requester.username):
        raise CcRefused(gettext_lazy("The requester gets every reply already."), field="email")
    if _desk_address(address):
        raise CcRefused(gettext_lazy("That is the desk's own address."), field="email")
    return address


@transaction.atomic
def cc_add(*, ticket: Ticket, email: str, by: User | None, now: datetime) -> TicketCc:
    """Copy ``email`` on the ticket's public replies; an address already copied keeps its row.

    ``by``: an agent (on a ticket they may change) or the requester; None for the desk itself
    (the mail gateway, filling the list from the first email's Cc header).

    :raises CcRefused: not an email address, the requester's own, one of the desk's, or the list is full
    :raises NotAllowed: someone else's ticket; :raises OutsideYourTier: an agent above their tier
    :raises TicketClosed: a closed ticket
    """
    ticket = _locked(ticket)
    if by is not None:
        ticket_check_may_change(ticket=ticket, actor=by, customer_may=True)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(gettext_lazy("This ticket is closed."))
    address = _cc_address(ticket, email)
    existing = TicketCc.objects.filter(ticket=ticket, email=address).first()
    if existing is not None:
        return existing
    if TicketCc.objects.filter(ticket=ticket).count() >= MAX_CCS:
        raise CcRefused(gettext("A ticket copies at most %(count)s addresses.") % {"count": MAX_CCS}, field="email")
    cc = TicketCc.objects.create(ticket=ticket, email=address, added_by=by, added_at=now)
    # Addresses are the desk's business: the event is internal, like a note.
    _record(ticket, actor=by, kind=TicketEvent.Kind.CC_ADDED, now=now, new=address, internal=True)
    return cc


# No savepoint of its own: it refuses nothing, so it never rolls back alone.
@transaction.atomic(savepoint=False)
def cc_add_many(*, ticket: Ticket, emails: Sequence[str], now: datetime) -> list[TicketCc]:
    """The desk copies everyone a mail went to (the mail gateway, from the first email's To and Cc):
    each address cc_add would take, in order, until the list is full; the others are left out
    without a word. The addresses are checked before anything is read: a mail to the desk alone
    costs no query.
    """
    wanted: list[str] = []
    for email in emails:
        if len(wanted) >= MAX_CCS:
            break
        try:
            address = _cc_address(ticket, email)
        except CcRefused:
            continue
        if address not in wanted:
            wanted.append(address)
    if not wanted:
        return []
    ticket = _locked(ticket)
    if ticket.status == Status.CLOSED:
        return []
    copied = set(TicketCc.objects.filter(ticket=ticket).values_list("email", flat=True))
    room = max(MAX_CCS - len(copied), 0)
    fresh = [address for address in wanted if address not in copied][:room]
    ccs = TicketCc.objects.bulk_create([TicketCc(ticket=ticket, email=a, added_by=None, added_at=now) for a in fresh])
    TicketEvent.objects.bulk_create(
        [_event(ticket, actor=None, kind=TicketEvent.Kind.CC_ADDED, now=now, new=a, internal=True) for a in fresh]
    )
    return ccs


@transaction.atomic
def cc_remove(*, ticket: Ticket, email: str, by: User | None, now: datetime) -> bool:
    """Stop copying ``email``; False when it was not copied.

    :raises NotAllowed: someone else's ticket; :raises OutsideYourTier: an agent above their tier
    """
    ticket = _locked(ticket)
    if by is not None:
        ticket_check_may_change(ticket=ticket, actor=by, customer_may=True)
    address = normalise_email(email)
    deleted, _ = TicketCc.objects.filter(ticket=ticket, email=address).delete()
    if deleted:
        _record(ticket, actor=by, kind=TicketEvent.Kind.CC_REMOVED, now=now, old=address, internal=True)
    return bool(deleted)


@transaction.atomic
def tickets_close_resolved(*, now: datetime, after: timedelta) -> list[Ticket]:
    """Close tickets resolved longer ago than ``after`` that nobody reopened (500 per call); return them."""
    closed = []
    due = Ticket.objects.select_for_update(skip_locked=True).filter(
        status=Status.RESOLVED, resolved_at__lte=now - after
    )
    for ticket in due[:500]:
        _set_status(ticket, to=Status.CLOSED, actor=None, now=now)
        closed.append(ticket)
    return closed


@transaction.atomic
def tickets_delete(*, ticket_ids: Sequence[int]) -> int:
    """Delete tickets with everything that hangs off them (the console's superuser delete); return how many."""
    deleted, _ = Ticket.objects.filter(pk__in=ticket_ids).delete()
    return deleted


# --- merge and split --------------------------------------------------------------------------


def merged_message(ticket: Ticket) -> str:
    """What whoever writes on a merged ticket is told: where its conversation went."""
    survivor = Ticket.objects.filter(merged_from=ticket).values_list("reference", flat=True).first()
    return gettext("%(source)s was merged into %(target)s: write on %(target)s instead.") % {
        "source": ticket.reference,
        "target": survivor or gettext("another ticket"),
    }


def _locked_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Both tickets under their row locks, taken in primary key order so two merges never deadlock."""
    rows = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk")}
    return rows[first.pk], rows[second.pk]


@transaction.atomic(savepoint=False)
def ticket_merge(
    *, source: Ticket, target: Ticket, actor: User, now: datetime, other_customer_confirmed: bool = False
) -> tuple[Ticket, Ticket]:
    """Merge the duplicate ``source`` into ``target``, the survivor; return both as written.

    The source's request (its description, as a message dated when it was filed), messages with their
    attachments and CC addresses move to the target (an address the target copies already stays where
    it was); a different customer of the source is copied on the target's replies. The source is
    closed, pointing at the target (``merged_into``); each timeline says where the other went.

    :raises MergeRefused: into itself, into or from a merged or closed ticket, or a different
        customer's ticket without ``other_customer_confirmed``
    :raises NotAllowed: not an agent; :raises OutsideYourTier: either ticket outside the agent's scope
    """
    if source.pk == target.pk:
        raise MergeRefused(gettext("A ticket cannot be merged into itself."), field="target")
    if not permissions.can_work_ticket(actor):
        raise NotAllowed(gettext("Only support agents merge tickets."))
    source, target = _locked_pair(source, target)
    if target.merged_into_id is not None:
        raise MergeRefused(merged_message(target), field="target")
    if source.merged_into_id is not None:
        raise MergeRefused(merged_message(source), field="source")
    for ticket, field in ((source, "source"), (target, "target")):
        if ticket.status == Status.CLOSED:
            raise MergeRefused(
                gettext("%(ticket)s is closed: only open tickets are merged.") % {"ticket": ticket.reference},
                field=field,
            )
        ticket_check_may_change(ticket=ticket, actor=actor)
    different = source.requester_id != target.requester_id
    if different and not other_customer_confirmed:
        raise MergeRefused(
            gettext(
                "%(source)s and %(target)s belong to different customers: confirm that the customer of "
                "%(source)s may see %(target)s's replies."
            )
            % {"source": source.reference, "target": target.reference},
            field="confirm",
        )
    requester = source.requester
    Message.objects.create(
        ticket=target,
        author=requester,
        body=f"[{source.reference}] {source.subject}\n\n{source.description}"[:50000],
        internal=False,
        by_agent=permissions.can_work_ticket(requester),
        created_at=source.created_at,
    )
    Message.objects.filter(ticket=source).update(ticket=target)
    copied = set(TicketCc.objects.filter(ticket=target).values_list("email", flat=True))
    room = max(MAX_CCS - len(copied), 0)
    moving = [cc.pk for cc in TicketCc.objects.filter(ticket=source).exclude(email__in=copied)][:room]
    TicketCc.objects.filter(pk__in=moving).update(ticket=target)
    events: list[TicketEvent] = []
    if different and len(moving) < room:
        address = normalise_email(requester.email or requester.username)
        if address not in copied and not TicketCc.objects.filter(ticket=target, email=address).exists():
            TicketCc.objects.create(ticket=target, email=address, added_by=actor, added_at=now)
            events.append(
                _event(target, actor=actor, kind=TicketEvent.Kind.CC_ADDED, now=now, new=address, internal=True)
            )
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    _set_status(source, to=Status.CLOSED, actor=actor, now=now)
    events += [
        _event(source, actor=actor, kind=TicketEvent.Kind.MERGED_INTO, now=now, new=target.reference),
        # Another customer's ticket is the desk's business on the survivor's timeline.
        _event(
            target, actor=actor, kind=TicketEvent.Kind.MERGED_FROM, now=now, new=source.reference, internal=different
        ),
    ]
    TicketEvent.objects.bulk_create(events)
    Ticket.objects.filter(pk=target.pk).update(updated_at=now)
    target.updated_at = now
    return source, target


def split_check(*, message: Message, actor: User, subject: str) -> tuple[Ticket, str]:
    """The ticket ``message`` is on, under its row lock, and the new ticket's subject, if ``actor`` may split it off.

    :raises SplitRefused: no subject, a closed or merged ticket, or the ticket's only message
    :raises NotAllowed: not an agent; :raises OutsideYourTier: a ticket outside the agent's scope
    """
    if not permissions.can_work_ticket(actor):
        raise NotAllowed(gettext("Only support agents split tickets."))
    subject = subject.strip()
    if not subject:
        raise SplitRefused(gettext("Give the new ticket a subject."), field="subject")
    if len(subject) > Ticket._meta.get_field("subject").max_length:  # type: ignore[operator]
        raise SplitRefused(gettext("The subject is too long."), field="subject")
    ticket = _locked(message.ticket)
    if ticket.merged_into_id is not None:
        raise SplitRefused(merged_message(ticket))
    if ticket.status == Status.CLOSED:
        raise SplitRefused(gettext("This ticket is closed: its messages stay where they are."))
    ticket_check_may_change(ticket=ticket, actor=actor)
    return ticket, subject


@transaction.atomic(savepoint=False)
def message_move(*, message: Message, source: Ticket, target: Ticket, actor: User, now: datetime) -> Message:
    """Move ``message`` (its attachments follow it) from ``source`` to the new ``target``; each timeline
    names the other ticket."""
    Message.objects.filter(pk=message.pk, ticket=source).update(ticket=target)
    message.ticket = target
    TicketEvent.objects.bulk_create(
        [
            _event(source, actor=actor, kind=TicketEvent.Kind.SPLIT_TO, now=now, new=target.reference),
            _event(target, actor=actor, kind=TicketEvent.Kind.SPLIT_FROM, now=now, new=source.reference),
        ]
    )
    Ticket.objects.filter(pk=source.pk).update(updated_at=now)
    return message
