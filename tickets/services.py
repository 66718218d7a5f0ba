"""Every state change of a ticket. Views, the admin, the API and tasks call these.

Each function takes ``now`` from its caller, runs in one transaction, locks the
ticket row it changes, writes the timeline event beside the change, and raises
a DomainError (nothing written) when a rule refuses it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.signing import BadSignature, Signer, TimestampSigner, b62_decode, b62_encode
from django.db import IntegrityError, transaction

from sofacover.dbutil import insert_many, update_many
from sofacover.errors import Conflict, DomainError

from . import permissions
from .auth import normalise_email
from .models import Attachment, Message, Rating, SurveyToken, Ticket, TicketEvent, reference_for
from .uploads import CheckedUpload

Status = Ticket.Status


class InvalidTransition(Conflict):
    code = "invalid_transition"


class TicketClosed(Conflict):
    code = "ticket_closed"


class NotAllowed(DomainError):
    code = "not_allowed"
    http_status = 403


class OutsideYourTier(NotAllowed):
    """An agent changing a ticket above their tier that is not assigned to them (queue scoping)."""

    code = "outside_your_tier"


class UserExists(Conflict):
    code = "user_exists"


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
            f"A {Status(ticket.status).label.lower()} ticket cannot become {Status(to).label.lower()}.",
            field="status",
        )


# --- users ------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    role: str,
    tier: int | None = None,
    first_name: str = "",
    last_name: str = "",
    is_active: bool = True,
) -> User:
    """Create a desk user whose username is the normalised email; agents and managers are staff.

    :raises UserExists: if the address is taken
    :raises DomainError: for an unknown role or a missing/invalid tier
    """
    if role not in permissions.ROLE_CHOICES:
        raise DomainError(f"Unknown role {role!r}; choose one of {', '.join(permissions.ROLE_CHOICES)}.")
    if role == "agent" and tier not in permissions.AGENT_GROUPS:
        raise DomainError("Agents need a tier: 1, 2 or 3.", field="tier")
    if role != "agent" and tier is not None:
        raise DomainError("Only agents have a tier.", field="tier")
    email = normalise_email(email)
    if User.objects.filter(username=email).exists():
        raise UserExists(f"A user with the address {email} already exists.", field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=email,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_staff=role != "customer",
                is_superuser=role == "admin",
                is_active=is_active,
            )
    except IntegrityError as exc:  # lost a race with the same address
        raise UserExists(f"A user with the address {email} already exists.", field="email") from exc
    group_name = {
        "customer": permissions.CUSTOMERS,
        "manager": permissions.MANAGERS,
        "admin": permissions.ADMINS,
    }.get(role) or permissions.AGENT_GROUPS[tier or 1]
    user.groups.add(Group.objects.get(name=group_name))
    return user


# --- tickets ----------------------------------------------------------------


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
    event = TicketEvent.objects.create(
        ticket=ticket,
        actor=actor,
        kind=kind,
        field=field,
        old_value="" if old is None else str(old)[:200],
        new_value="" if new is None else str(new)[:200],
        internal=internal,
        at=now,
    )
    return event


def _locked(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent changes queue instead of overwriting."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _store_attachments(message: Message, uploads: Sequence[CheckedUpload], *, actor: User, now: datetime) -> None:
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
        attachment.save()
        _record(
            message.ticket,
            actor=actor,
            kind=TicketEvent.Kind.ATTACHMENT_ADDED,
            now=now,
            new=upload.filename,
            internal=message.internal,
        )


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


@transaction.atomic
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
        raise DomainError(f"Not deadline columns: {', '.join(sorted(set(sla) - set(SLA_COLUMNS)))}.")
    actor = actor or requester
    if assignee is not None and not permissions.can_be_assigned(assignee):
        raise DomainError("Tickets can only be assigned to support agents.", field="assignee")
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
    ticket.save()
    ticket.reference = reference_for(ticket.pk)
    ticket.save(update_fields=["reference"])
    _record(ticket, actor=actor, kind=TicketEvent.Kind.CREATED, now=now, new=ticket.priority)
    if attachments:
        message = Message.objects.create(
            ticket=ticket,
            author=requester,
            body="Attached with the request.",
            internal=False,
            by_agent=False,
            created_at=now,
        )
        _store_attachments(message, attachments, actor=actor, now=now)
    return ticket


def _set_status(ticket: Ticket, *, to: str, actor: User | None, now: datetime, kind: str | None = None) -> None:
    transition_or_raise(ticket, to=to)
    old = ticket.status
    ticket.status = to
    if to == Status.RESOLVED:
        ticket.resolved_at = now
    elif to == Status.CLOSED:
        ticket.closed_at = now
    elif old == Status.RESOLVED:
        ticket.resolved_at = None  # reopened: the next resolution is the one that counts
    ticket.updated_at = now
    ticket.save(update_fields=["status", "resolved_at", "closed_at", "updated_at"])
    _record(ticket, actor=actor, kind=kind or TicketEvent.Kind.STATUS_CHANGED, now=now, field="status", old=old, new=to)


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
        raise NotAllowed("You may not change this ticket.")


@transaction.atomic
def ticket_change_status(*, ticket: Ticket, to: str, actor: User, now: datetime) -> Ticket:
    """Move a ticket to ``to`` if the transition is allowed.

    :raises InvalidTransition: if ``to`` may not follow the current status
    """
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor)
    _set_status(ticket, to=to, actor=actor, now=now)
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket: Ticket, actor: User, now: datetime) -> Ticket:
    """Resolve: agents, or the requester marking their own ticket solved."""
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor, customer_may=True)
    _set_status(ticket, to=Status.RESOLVED, actor=actor, now=now)
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: User, now: datetime) -> Ticket:
    """Reopen a resolved ticket: agents, or its requester. Closed tickets stay closed."""
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor, customer_may=True)
    if ticket.status != Status.RESOLVED:
        raise InvalidTransition(
            f"Only resolved tickets can be reopened; this one is {Status(ticket.status).label.lower()}.",
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
        raise DomainError("Tickets can only be assigned to support agents.", field="assignee")
    if ticket.status == Status.CLOSED:
        raise TicketClosed("This ticket is closed.")
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
        raise DomainError(f"{kind!r} events are written by the ticket services themselves.")
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
        raise TicketClosed("This ticket is closed.")
    if tier not in Ticket.Tier.values:
        raise DomainError(f"There is no tier {tier}.", field="tier")
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
    """
    unknown = set(changes) - {*UPDATABLE, "status", "assignee"}
    if unknown:
        raise DomainError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    ticket = _locked(ticket)
    ticket_check_may_change(ticket=ticket, actor=actor)
    if ticket.status == Status.CLOSED:
        raise TicketClosed("This ticket is closed and can no longer be changed.")
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
    if "status" in changes and changes["status"] != ticket.status:
        if ticket.status == Status.RESOLVED and changes["status"] == Status.OPEN:
            _set_status(ticket, to=Status.OPEN, actor=actor, now=now, kind=TicketEvent.Kind.REOPENED)
        else:
            _set_status(ticket, to=changes["status"], actor=actor, now=now)
    return ticket


@transaction.atomic
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
    - nobody writes on a closed ticket.
    """
    by_agent = permissions.can_work_ticket(author)
    if not by_agent and ticket.requester_id != author.pk:
        raise NotAllowed("You may not write on this ticket.")
    if internal and not by_agent:
        raise NotAllowed("Only support agents can write internal notes.", field="internal")
    body = body.strip()
    if not body and not attachments:
        raise DomainError("Write a message or attach a file.", field="body")
    ticket = _locked(ticket)
    if by_agent:
        ticket_check_may_change(ticket=ticket, actor=author)
    if ticket.status == Status.CLOSED:
        raise TicketClosed("This ticket is closed. Please open a new ticket.")
    message = Message.objects.create(
        ticket=ticket, author=author, body=body, internal=internal, by_agent=by_agent, created_at=now
    )
    if not internal and by_agent:
        ticket.last_agent_reply_at = now
        fields = ["last_agent_reply_at"]
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            fields.append("first_responded_at")
        ticket.save(update_fields=fields)
    _record(
        ticket,
        actor=author,
        kind=TicketEvent.Kind.NOTE_ADDED if internal else TicketEvent.Kind.REPLIED,
        now=now,
        internal=internal,
    )
    _store_attachments(message, attachments, actor=author, now=now)
    if not internal:
        if by_agent:
            if ticket.status == Status.NEW:
                _set_status(ticket, to=Status.OPEN, actor=author, now=now)
        elif ticket.status == Status.RESOLVED:
            _set_status(ticket, to=Status.OPEN, actor=author, now=now, kind=TicketEvent.Kind.REOPENED)
        elif ticket.status == Status.PENDING_CUSTOMER:
            _set_status(ticket, to=Status.OPEN, actor=author, now=now)
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    message.ticket = ticket
    return message


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


# --- portal accounts ---


@transaction.atomic
def customer_sign_up(*, email: str, password: str, name: str) -> tuple[User, bool]:
    """Create an inactive customer for a new address; return the existing user for a known one.

    An account the desk created for an email sender or a phone caller (inactive, no password) counts
    as new: it gets the password, and the activation mail, and the customer sees their tickets.

    The caller tells the two apart only to choose which email to send, never in
    what it shows, so sign-up does not reveal which addresses have accounts. Nor
    does its timing: the password is hashed on both paths (the hashing is almost
    all of the work), and stored only for a new account.
    """
    try:
        with transaction.atomic():
            user = user_create(
                email=email,
                password=password,
                role="customer",
                first_name=name.strip()[:150],
                is_active=False,
            )
    except UserExists:
        hashed = make_password(password)  # the hashing user_create did not do
        user = User.objects.get(username=normalise_email(email))
        if user.is_active or user.has_usable_password() or user.is_staff:
            return user, False
        # An account the desk made for a sender or a caller, never claimed: the address's owner
        # claims it like a new one, by the activation link mailed to it.
        user.password = hashed
        user.first_name = user.first_name or name.strip()[:150]
        user.save(update_fields=["password", "first_name"])
    return user, True


@transaction.atomic
def user_activate(*, user: User) -> User:
    """Activate a customer who followed the link in their sign-up email."""
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


# --- satisfaction ---

RATING_CHANGE_WINDOW = timedelta(days=7)
RATED_STATUSES = (Status.RESOLVED, Status.CLOSED)
SURVEY_SALT = "tickets.survey.link"


class TicketNotResolved(Conflict):
    code = "ticket_not_resolved"


class RatingLocked(Conflict):
    code = "rating_locked"


class SurveyLinkInvalid(DomainError):
    """Forged, truncated or unknown: shown exactly like a link that never existed."""

    code = "survey_link_invalid"
    http_status = 404


class SurveyLinkExpired(DomainError):
    code = "survey_link_expired"
    http_status = 410


class SurveyLinkUsed(DomainError):
    code = "survey_link_used"
    http_status = 410


def rating_can_change(rating: Rating, *, now: datetime) -> bool:
    """A rating may be replaced for 7 days after it was first given."""
    return now - rating.created_at <= RATING_CHANGE_WINDOW


@transaction.atomic
def rating_submit(*, ticket: Ticket, actor: User, score: int, comment: str = "", now: datetime) -> tuple[Rating, bool]:
    """Rate a resolved or closed ticket as its requester; within 7 days a new rating replaces the old.

    Returns the rating and whether it was created (False: replaced).

    :raises NotAllowed: the actor is not the requester (agents included)
    :raises DomainError: the score is not a whole number from 1 to 5
    :raises TicketNotResolved: the ticket is still being worked on
    :raises RatingLocked: the ticket was rated more than 7 days ago
    """
    if not permissions.can_rate_ticket(actor, ticket):
        raise NotAllowed("Only the customer who filed this ticket can rate it.")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError("Choose a score from 1 to 5.", field="score")
    ticket = _locked(ticket)
    if ticket.status not in RATED_STATUSES:
        raise TicketNotResolved("You can rate a ticket once it is resolved.")
    comment = comment.strip()[:2000]
    rating = Rating.objects.filter(ticket=ticket).first()
    if rating is None:
        rating = Rating.objects.create(ticket=ticket, score=score, comment=comment, created_at=now, updated_at=now)
        return rating, True
    if not rating_can_change(rating, now=now):
        raise RatingLocked("This rating was given more than 7 days ago and can no longer be changed.")
    rating.score, rating.comment, rating.updated_at = score, comment, now
    rating.save(update_fields=["score", "comment", "updated_at"])
    return rating, False


class _SurveySigner(TimestampSigner):
    """A TimestampSigner whose clock is the caller's ``now``."""

    def __init__(self, *, now: datetime) -> None:
        super().__init__(salt=SURVEY_SALT, algorithm="sha256")
        self._now = now

    def timestamp(self) -> str:
        return b62_encode(int(self._now.timestamp()))


def survey_link_issue(*, ticket: Ticket, now: datetime) -> str:
    """A new single-use survey token for ``ticket``: signed, dated ``now``, 128 random bits."""
    nonce = secrets.token_urlsafe(16)
    SurveyToken.objects.create(ticket=ticket, nonce=nonce, created_at=now)
    return _SurveySigner(now=now).sign(f"{ticket.pk}.{nonce}")


def _survey_token_check(token: str, *, now: datetime) -> SurveyToken:
    signer = _SurveySigner(now=now)
    try:
        # Signer.unsign checks the signature over "value:timestamp"; the age is checked against ``now``.
        value, stamp = Signer.unsign(signer, token).rsplit(":", 1)
        signed_at = b62_decode(stamp)
    except (BadSignature, ValueError) as exc:
        raise SurveyLinkInvalid("This survey link is not valid.") from exc
    ticket_id, _, nonce = value.partition(".")
    row = SurveyToken.objects.select_related("ticket__requester").filter(nonce=nonce).first() if nonce else None
    if row is None or not hmac.compare_digest(row.nonce, nonce) or str(row.ticket_id) != ticket_id:
        raise SurveyLinkInvalid("This survey link is not valid.")
    if now.timestamp() - signed_at > settings.SURVEY_LINK_MAX_AGE.total_seconds():
        raise SurveyLinkExpired("This survey link has expired.")
    if row.used_at is not None:
        raise SurveyLinkUsed("This survey link has already been used.")
    return row


def survey_link_open(*, token: str, now: datetime) -> SurveyToken:
    """The survey token behind a link, if the link is genuine, unexpired and unused.

    :raises SurveyLinkInvalid: forged, truncated, or for no survey we sent (404)
    :raises SurveyLinkExpired: older than settings.SURVEY_LINK_MAX_AGE (410)
    :raises SurveyLinkUsed: a rating was already given through it (410)
    """
    return _survey_token_check(token, now=now)


@transaction.atomic
def survey_link_rate(*, token: str, score: int, comment: str = "", now: datetime) -> Rating:
    """Rate through an emailed link, on the requester's behalf; the link is spent by it."""
    row = _survey_token_check(token, now=now)
    if SurveyToken.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) != 1:
        raise SurveyLinkUsed("This survey link has already been used.")
    rating, _ = rating_submit(ticket=row.ticket, actor=row.ticket.requester, score=score, comment=comment, now=now)
    return rating
