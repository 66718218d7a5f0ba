"""Every change to an incident: declare, update, edit, actions, links, resolve.

Each takes ``now`` and the person acting, writes the incident's timeline in the
same transaction and drops the status page's snapshot. Nothing here tells
anyone: the use cases (support.usecases) hand the result to notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts import permissions as roles
from escalation import selectors as sla_selectors
from escalation import sla
from sofacover.errors import Conflict, DomainError
from tickets.models import Ticket

from . import status as status_page
from .models import Component, Incident, IncidentAction, IncidentEvent, IncidentTicket

Status = Incident.Status
Kind = IncidentEvent.Kind
MAX_ACTIONS = 50
# When a declaration says no more, what the status page shows first.
FIRST_PUBLIC_UPDATE = "We are investigating this issue and will post updates here."
EDITABLE = (
    "title",
    "severity",
    "impact",
    "users_affected",
    "war_room",
    "commander",
    "public",
    "functionality",
    "expected_resolution",
    "what_happened",
    "resolution",
    "prevention",
)
# The order of the statuses: an update may move back (a fix that did not hold), never to resolved
# (that is ``resolve``, which needs the resolution notification's fields).
FORWARD = {Status.INVESTIGATING: 0, Status.IDENTIFIED: 1, Status.MONITORING: 2, Status.RESOLVED: 3}


def update_due(severity: str, *, after: datetime) -> datetime | None:
    """When the next update is due, by the severity's SLA update target on its calendar
    (P0 every 30 min, P1 every 2 h as seeded); None when the policy sets no update timer."""
    entry = sla_selectors.policy_book().entry(severity)
    if entry is None or entry.policy.update is None:
        return None
    return sla.add(entry.calendar, after, entry.policy.update)


def _event(
    incident: Incident,
    kind: str,
    *,
    now: datetime,
    author: User | None,
    body: str = "",
    public: bool = False,
    ticket: Ticket | None = None,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        at=now,
        author=author,
        status=incident.status,
        body=body,
        public=public,
        ticket=ticket,
    )


def _check_commander(commander: User | None) -> None:
    if commander is not None and not roles.is_agent(commander):
        raise DomainError(gettext("The commander must be an agent or a manager."), field="commander")


def _check_times(*, started_at: datetime, detected_at: datetime, now: datetime) -> None:
    if started_at > now:
        raise DomainError(gettext("An incident cannot start in the future."), field="started_at")
    if detected_at < started_at:
        raise DomainError(gettext("It cannot be detected before it started."), field="detected_at")
    if detected_at > now:
        raise DomainError(gettext("It cannot be detected in the future."), field="detected_at")


@transaction.atomic
def declare(
    *,
    severity: str,
    title: str,
    impact: str,
    now: datetime,
    declared_by: User | None,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    users_affected: int | None = None,
    commander: User | None = None,
    war_room: str = "",
    actions: Sequence[str] = (),
    components: Iterable[Component] = (),
    source: str = Incident.Source.CONSOLE,
    ticket: Ticket | None = None,
    public: bool = True,
    public_message: str = "",
    functionality: str = "",
    expected_resolution: str = "",
    monitor_key: str = "",
) -> Incident:
    """Open an incident: its actions, the declaration on its timeline (and, when public, its first
    update on the status page), the ticket it came from linked. The commander defaults to whoever declared."""
    if severity not in Ticket.Priority.values:
        raise DomainError(gettext("Choose a severity from P0 to P3."), field="severity")
    if not title.strip():
        raise DomainError(gettext("Give the incident a title."), field="title")
    if not impact.strip():
        raise DomainError(gettext("Say what is affected."), field="impact")
    actions = [text.strip() for text in actions if text.strip()]
    if len(actions) > MAX_ACTIONS:
        raise DomainError(gettext("At most %(count)s actions.") % {"count": MAX_ACTIONS}, field="actions")
    started_at = started_at or now
    detected_at = detected_at or now
    _check_times(started_at=started_at, detected_at=detected_at, now=now)
    if commander is None and declared_by is not None and roles.is_agent(declared_by):
        commander = declared_by
    _check_commander(commander)
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                severity=severity,
                title=title.strip(),
                impact=impact.strip(),
                users_affected=users_affected,
                war_room=war_room.strip(),
                declared_by=declared_by,
                commander=commander,
                source=source,
                ticket=ticket,
                public=public,
                functionality=functionality.strip(),
                expected_resolution=expected_resolution.strip(),
                started_at=started_at,
                detected_at=detected_at,
                declared_at=now,
                updated_at=now,
                next_update_due_at=update_due(severity, after=now),
                monitor_key=monitor_key,
            )
    except IntegrityError as exc:
        raise Conflict(gettext("This monitor already has an open incident."), field="monitor_key") from exc
    incident.components.set(list(components))
    IncidentAction.objects.bulk_create(
        IncidentAction(incident=incident, text=text[:300], position=n) for n, text in enumerate(actions)
    )
    _event(
        incident,
        Kind.DECLARED,
        now=now,
        author=declared_by,
        body=public_message.strip() or FIRST_PUBLIC_UPDATE,
        public=public,
    )
    if ticket is not None:
        link(incident=incident, tickets=[ticket], by=declared_by, now=now)
    status_page.snapshot_forget()
    return incident


def _lock(incident: Incident) -> Incident:
    """The incident's row, locked for this transaction (two updates at once apply one after the other)."""
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _require_open(incident: Incident) -> None:
    if not incident.is_open:
        raise Conflict(gettext("This incident is resolved."), field="status")


@transaction.atomic
def post_update(
    *, incident: Incident, author: User | None, body: str, now: datetime, status: str | None = None, public: bool = True
) -> IncidentEvent:
    """An update: a new status (investigating / identified / monitoring) and what to say. A public
    update goes on the status page and restarts the update cadence; an internal one is a note."""
    incident = _lock(incident)
    _require_open(incident)
    body = body.strip()
    if not body:
        raise DomainError(gettext("Write the update."), field="body")
    status = status or incident.status
    if status not in FORWARD or status == Status.RESOLVED:
        raise DomainError(
            gettext("Choose investigating, identified or monitoring; resolve the incident to close it."), field="status"
        )
    moved = status != incident.status
    incident.status = status
    if status == Status.IDENTIFIED and incident.identified_at is None:
        incident.identified_at = now
    if status == Status.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    incident.updated_at = now
    if public:
        incident.next_update_due_at = update_due(incident.severity, after=now)
    incident.save()
    kind = Kind.STATUS if moved else (Kind.UPDATE if public else Kind.NOTE)
    event = _event(incident, kind, now=now, author=author, body=body, public=public and incident.public)
    status_page.snapshot_forget()
    return event


@transaction.atomic
def edit(
    *,
    incident: Incident,
    author: User | None,
    now: datetime,
    components: Iterable[Component] | None = None,
    **changes: Any,
) -> Incident:
    """The commander's edits of the incident's fields, all or nothing; the timeline says which changed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(gettext("Cannot change %(names)s.") % {"names": ", ".join(sorted(unknown))})
    incident = _lock(incident)
    if "severity" in changes and changes["severity"] not in Ticket.Priority.values:
        raise DomainError(gettext("Choose a severity from P0 to P3."), field="severity")
    if "title" in changes and not str(changes["title"]).strip():
        raise DomainError(gettext("Give the incident a title."), field="title")
    if "commander" in changes:
        _check_commander(changes["commander"])
    changed = [name for name, value in changes.items() if getattr(incident, name) != value]
    for name in changed:
        setattr(incident, name, changes[name])
    if "severity" in changed and incident.is_open:
        incident.next_update_due_at = update_due(incident.severity, after=now)
    if components is not None:
        wanted = {c.pk for c in components}
        if wanted != set(incident.components.values_list("pk", flat=True)):
            incident.components.set(list(wanted))
            changed.append("components")
    if not changed:
        return incident
    incident.updated_at = now
    incident.save()
    _event(incident, Kind.EDITED, now=now, author=author, body="Changed: " + ", ".join(changed) + ".")
    status_page.snapshot_forget()
    return incident


@transaction.atomic
def action_add(*, incident: Incident, text: str, author: User | None, now: datetime) -> IncidentAction:
    text = text.strip()
    if not text:
        raise DomainError(gettext("Write the action."), field="text")
    if incident.actions.count() >= MAX_ACTIONS:
        raise DomainError(gettext("At most %(count)s actions.") % {"count": MAX_ACTIONS}, field="text")
    position = (incident.actions.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    action = IncidentAction.objects.create(incident=incident, text=text[:300], position=position)
    _event(incident, Kind.ACTION, now=now, author=author, body=f"Action added: {action.text}")
    return action


@transaction.atomic
def action_tick(*, action: IncidentAction, done: bool, author: User | None, now: datetime) -> IncidentAction:
    if (action.done_at is not None) == done:
        return action
    action.done_at = now if done else None
    action.save(update_fields=["done_at"])
    _event(
        action.incident, Kind.ACTION, now=now, author=author, body=f"{'Done' if done else 'Not done'}: {action.text}"
    )
    return action


@transaction.atomic
def link(*, incident: Incident, tickets: Iterable[Ticket], by: User | None, now: datetime) -> list[IncidentTicket]:
    """Link tickets to the incident; returns the new links (a ticket already linked is skipped).

    The incident's row is locked first: two agents linking the same tickets at once link them one
    after the other (the second finds them linked) instead of deadlocking on the unique index, and
    an incident resolved meanwhile takes no more links.
    """
    incident = _lock(incident)
    _require_open(incident)
    wanted = {t.pk: t for t in tickets}
    already = set(incident.links.filter(ticket_id__in=list(wanted)).values_list("ticket_id", flat=True))
    fresh = [
        IncidentTicket(incident=incident, ticket=t, linked_at=now, linked_by=by)
        for pk, t in wanted.items()
        if pk not in already
    ]
    IncidentTicket.objects.bulk_create(fresh, ignore_conflicts=True)
    IncidentEvent.objects.bulk_create(
        IncidentEvent(
            incident=incident,
            kind=Kind.LINKED,
            at=now,
            author=by,
            status=incident.status,
            ticket=link.ticket,
            body=f"Linked {link.ticket.reference}.",
        )
        for link in fresh
    )
    return list(
        incident.links.filter(ticket_id__in=[link.ticket.pk for link in fresh]).select_related(
            "ticket", "ticket__requester"
        )
    )


@transaction.atomic
def unlink(*, incident: Incident, ticket: Ticket, by: User | None, now: datetime) -> bool:
    """Unlink a ticket: it no longer hears about the incident, nor resolves with it."""
    deleted, _ = incident.links.filter(ticket=ticket).delete()
    if deleted:
        _event(incident, Kind.UNLINKED, now=now, author=by, ticket=ticket, body=f"Unlinked {ticket.reference}.")
    return bool(deleted)


@transaction.atomic
def links_move(*, source: Ticket, target: Ticket, by: User | None, now: datetime) -> int:
    """A ticket merged into another (support.usecases.merge_tickets): its incident links move to the
    survivor, acknowledgments and all; an incident the survivor is linked to already keeps the survivor's
    link. Returns how many moved."""
    taken = IncidentTicket.objects.filter(ticket=target).values("incident_id")
    moving = list(
        IncidentTicket.objects.filter(ticket=source).exclude(incident_id__in=taken).select_related("incident")
    )
    IncidentTicket.objects.filter(pk__in=[link.pk for link in moving]).update(ticket=target)
    IncidentEvent.objects.bulk_create(
        IncidentEvent(
            incident=link.incident,
            kind=Kind.LINKED,
            at=now,
            author=by,
            status=link.incident.status,
            ticket=target,
            body=f"Linked {target.reference}: {source.reference} was merged into it.",
        )
        for link in moving
    )
    return len(moving)


def acknowledged(*, links: Iterable[IncidentTicket], now: datetime) -> int:
    """Mark the links whose customers were sent the incident acknowledgment."""
    return IncidentTicket.objects.filter(pk__in=[link.pk for link in links], acknowledged_at__isnull=True).update(
        acknowledged_at=now
    )


def resolution_sent(*, incident: Incident, now: datetime) -> int:
    return incident.links.filter(resolution_sent_at__isnull=True).update(resolution_sent_at=now)


@transaction.atomic
def resolve(
    *,
    incident: Incident,
    by: User | None,
    now: datetime,
    what_happened: str | None = None,
    resolution: str | None = None,
    prevention: str | None = None,
    public_message: str = "",
) -> Incident:
    """Resolve the incident. The resolution notification's fields (what happened, resolution,
    prevention) are required for P0/P1, whose customers must be told them."""
    incident = _lock(incident)
    _require_open(incident)
    for name, value in (("what_happened", what_happened), ("resolution", resolution), ("prevention", prevention)):
        if value is not None:
            setattr(incident, name, value.strip())
    if incident.severity in (Ticket.Priority.P0, Ticket.Priority.P1):
        for name in ("what_happened", "resolution", "prevention"):
            if not getattr(incident, name):
                raise DomainError(gettext("Required to resolve a P0/P1 incident: customers are told it."), field=name)
    if now < incident.started_at:
        raise DomainError(gettext("It cannot be resolved before it started."), field="resolved_at")
    incident.status = Status.RESOLVED
    incident.resolved_at = now
    incident.updated_at = now
    incident.next_update_due_at = None
    incident.save()
    body = public_message.strip() or "This incident has been resolved."
    _event(incident, Kind.RESOLVED, now=now, author=by, body=body, public=incident.public)
    status_page.snapshot_forget()
    return incident


def update_warned(*, incident: Incident) -> bool:
    """Claim the warning about the incident's current due time: True for the one caller that marks it.

    A conditional UPDATE: of two sweeps at once the second waits for the first's row lock and then
    finds it marked; a due time moved meanwhile (an update was posted) is not marked either.
    """
    due = incident.next_update_due_at
    if due is None:
        return False
    claimed = (
        Incident.objects.filter(pk=incident.pk, next_update_due_at=due)
        .filter(Q(update_warned_for__isnull=True) | ~Q(update_warned_for=due))
        .update(update_warned_for=due)
    )
    return bool(claimed)


UPDATE_WARNING_LEAD = timedelta(minutes=10)
