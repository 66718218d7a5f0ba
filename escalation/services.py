"""The SLA engine: deadlines on every change, the sweep, automatic and manual escalation.

Every function takes ``now``; the sweep reads due work through an index and
handles it a batch of tickets per transaction, under their row locks,
re-checking each ticket's state before acting. Escalations and breaches are rows behind unique
constraints, so a second sweep, a retry or a killed worker can neither double nor lose one.
Who hears about them is not this app's business: the sweep hands each batch's breaches,
warnings and escalations to its caller inside the batch's transaction
(support.usecases.sla_sweep has the notifications app queue the alerts), and a manual
escalation is returned to support.usecases.escalate, which does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext

from sofacover.dbutil import insert_many, update_many
from sofacover.errors import Conflict, DomainError
from tickets import permissions as ticket_permissions
from tickets import placeholders
from tickets import services as ticket_services
from tickets.models import Ticket, TicketEvent

from . import selectors, sla
from .models import Escalation, EscalationRule, SlaBreach, SlaPause, SweepRun

logger = logging.getLogger(__name__)
Status = Ticket.Status
PAUSING: dict[str, str] = {
    Status.PENDING_CUSTOMER: SlaPause.Reason.PENDING_CUSTOMER,
    Status.RESOLVED: SlaPause.Reason.RESOLVED,
}
SWEEP = "sla-sweep"


class EscalationRefused(Conflict):
    code = "escalation_refused"


class EscalationAlreadyRequested(EscalationRefused):
    """A customer asks once per ticket."""

    code = "escalation_already_requested"


class AlreadyWithManagement(EscalationRefused):
    """Management hears about a ticket once, by rule or by hand."""

    code = "already_with_management"


# Called inside a transaction with the ids of the tickets it changed in bulk (the sweep's
# batch, a recompute): the caller keeps what depends on them current in the same transaction.
TicketsChanged = Callable[[list[int]], object]


@dataclass(frozen=True)
class BreachWarning:
    """75 % of a target has run on ``ticket`` (in ``tier`` at that moment); the deadline is ``due_at``."""

    ticket: Ticket
    kind: str  # SlaBreach.Kind
    due_at: datetime | None
    tier: int


@dataclass
class SlaHappened:
    """What one batch of the sweep did, in order of moment per ticket: for whoever must hear of it."""

    breaches: list[SlaBreach] = field(default_factory=list)
    warnings: list[BreachWarning] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)


# Called inside the batch's transaction with what it did (support.usecases.sla_sweep: the alerts).
SlaEvents = Callable[[SlaHappened], object]


# --- the plan: what falls due when ---------------------------------------------


@dataclass(frozen=True)
class Moment:
    """Something the sweep must do at ``at``: warn, record a breach, or apply a rule."""

    at: datetime
    what: str  # "warn" | "breach" | "rule"
    kind: str = ""  # SlaBreach.Kind for warn/breach
    due_at: datetime | None = None
    rule: EscalationRule | None = None


@dataclass(frozen=True)
class Plan:
    deadlines: sla.Deadlines
    first_response_warn_at: datetime | None
    resolution_warn_at: datetime | None
    moments: tuple[Moment, ...]


@dataclass
class EscalatedSoFar:
    """What a ticket's escalations mean for the rules: which fired, and whether management has it."""

    rules: set[int] = field(default_factory=set)
    with_management: bool = False


def _rule_applies(rule: EscalationRule, ticket: Ticket, so_far: EscalatedSoFar) -> bool:
    """Whether ``rule`` still has something to do for ``ticket``.

    A rule fires once per ticket, and a ticket already with management (by a rule
    or by hand) is never sent there again by any rule.
    """
    if rule.pk in so_far.rules:
        return False
    if rule.action == EscalationRule.Action.NOTIFY_MANAGEMENT and so_far.with_management:
        return False
    if rule.condition == EscalationRule.Condition.NOT_RESPONDED and ticket.first_responded_at is not None:
        return False
    if ticket.resolved_at is not None or not ticket.is_active:
        return False
    return not (rule.action == EscalationRule.Action.MOVE_TO_TIER and ticket.tier >= (rule.to_tier or 0))


def plan_for(
    ticket: Ticket, book: selectors.PolicyBook, pauses: tuple[sla.Pause, ...], so_far: EscalatedSoFar
) -> Plan | None:
    """Deadlines, warning moments and every pending moment of one ticket: pure but for its inputs."""
    entry = book.entry(ticket.priority)
    if entry is None:
        return None
    history = selectors.history_of(ticket, book, pauses)
    cal, targets = entry.calendar, entry.targets
    due, response_warn, resolution_warn = sla.deadlines_and_warnings(targets, cal, history)
    moments: list[Moment] = []
    active = ticket.is_active and ticket.resolved_at is None

    ended_at = ticket.resolved_at or ticket.closed_at

    def clock(kind: str, warn: datetime | None, due_at: datetime | None, done_at: datetime | None) -> None:
        if due_at is None:
            return
        if done_at is None and active:
            if warn is not None and warn < due_at:
                moments.append(Moment(warn, "warn", kind, due_at))
            moments.append(Moment(due_at, "breach", kind, due_at))
        elif done_at is not None and done_at > due_at:
            moments.append(Moment(done_at, "breach", kind, due_at))  # met late: still a breach on record
        elif done_at is None and ended_at is not None and ended_at > due_at:
            moments.append(Moment(due_at, "breach", kind, due_at))  # ended unmet after its deadline

    clock(SlaBreach.Kind.FIRST_RESPONSE, response_warn, due.first_response_due_at, ticket.first_responded_at)
    clock(SlaBreach.Kind.RESOLUTION, resolution_warn, due.resolution_due_at, ended_at)
    if due.next_update_due_at is not None and active and targets.update is not None:
        since = ticket.last_agent_reply_at or ticket.first_responded_at
        warn = sla.warning_at(cal, since, targets.update, pauses) if since else None
        clock(SlaBreach.Kind.NEXT_UPDATE, warn, due.next_update_due_at, None)
    if (
        due.tier_response_due_at is not None
        and active
        and history.tier_target is not None
        and history.tier_entered_at is not None
    ):
        warn = sla.warning_at(cal, history.tier_entered_at, history.tier_target, pauses)
        clock(SlaBreach.Kind.TIER_RESPONSE, warn, due.tier_response_due_at, None)
    for rule in book.rules.get(ticket.priority, ()):
        if not _rule_applies(rule, ticket, so_far):
            continue
        fire_at = sla.add(cal, ticket.created_at, rule.after, pauses)
        if fire_at is not None:
            moments.append(Moment(fire_at, "rule", rule=rule))
    moments.sort(key=lambda m: m.at)
    return Plan(due, response_warn, resolution_warn, tuple(moments))


def _escalated_so_far(ticket: Ticket) -> EscalatedSoFar:
    return _escalations_by_ticket([ticket.pk]).get(ticket.pk, EscalatedSoFar())


# The deadline columns this engine plans; tickets owns the list of what it stores.
SLA_FIELDS = ticket_services.SLA_COLUMNS


def _assign(ticket: Ticket, plan: Plan | None, next_check: datetime | None) -> dict[str, datetime | None]:
    """Set the plan's columns on the ticket in memory; return them."""
    d = plan.deadlines if plan else sla.Deadlines(None, None, None, None)
    values = {
        "first_response_due_at": d.first_response_due_at,
        "resolution_due_at": d.resolution_due_at,
        "next_update_due_at": d.next_update_due_at,
        "tier_response_due_at": d.tier_response_due_at,
        "first_response_warn_at": plan.first_response_warn_at if plan else None,
        "resolution_warn_at": plan.resolution_warn_at if plan else None,
        "sla_next_check_at": next_check,
    }
    for name, value in values.items():
        setattr(ticket, name, value)
    return values


def _store(ticket: Ticket, plan: Plan | None, next_check: datetime | None) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(**_assign(ticket, plan, next_check))


def sla_refresh(
    *,
    ticket: Ticket,
    now: datetime,
    book: selectors.PolicyBook | None = None,
    pauses: tuple[sla.Pause, ...] | None = None,
) -> Plan | None:
    """Recompute a ticket's deadlines from its history and schedule the sweep's next look.

    The next look is the earliest pending moment, past ones included: whatever
    fell due while nobody looked is handled (once) by the next sweep. ``pauses``: the
    ticket's pause segments, when the caller has just read them.
    """
    book = book or selectors.policy_book()
    pauses = selectors.pauses_of(ticket) if pauses is None else pauses
    plan = plan_for(ticket, book, pauses, _escalated_so_far(ticket))
    next_check = plan.moments[0].at if plan and plan.moments else None
    _store(ticket, plan, next_check)
    return plan


def sla_plan_new(*, priority: str, tier: int, now: datetime) -> dict[str, datetime | None]:
    """The first deadlines of a ticket filed at ``now``, for tickets.services.ticket_open(sla=...).

    A new ticket has no pauses, replies or escalations yet, so its plan needs
    nothing from the database but the policies; it is written with the ticket's own INSERT.
    """
    draft = Ticket(priority=priority, tier=tier, status=Status.NEW, created_at=now, updated_at=now, tier_entered_at=now)
    plan = plan_for(draft, selectors.policy_book(), (), EscalatedSoFar())
    return _assign(draft, plan, plan.moments[0].at if plan and plan.moments else None)


# --- pauses -------------------------------------------------------------------


def sla_follow(*, ticket: Ticket, now: datetime) -> Plan | None:
    """After a reply or a change of status, priority or tier: the pauses follow the status, then the deadlines.

    The clock is paused while the ticket waits on the customer or is resolved: one
    open pause segment of that reason; any other status (closed included) ends it.
    """
    pauses = list(SlaPause.objects.filter(ticket=ticket).order_by("started_at", "id"))  # read once, for both
    open_pause = next((pause for pause in pauses if pause.ended_at is None), None)
    reason = PAUSING.get(ticket.status)
    if open_pause is not None and open_pause.reason != reason:
        SlaPause.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=now)
        open_pause.ended_at, open_pause = now, None
    if open_pause is None and reason is not None:
        pauses.append(SlaPause.objects.create(ticket=ticket, started_at=now, reason=reason))
    segments = tuple(sla.Pause(pause.started_at, pause.ended_at) for pause in pauses)
    return sla_refresh(ticket=ticket, now=now, pauses=segments)


# --- escalation -----------------------------------------------------------------


def _escalate(
    *,
    ticket: Ticket,
    now: datetime,
    reason: str,
    rule: EscalationRule | None = None,
    actor: User | None = None,
    note: str = "",
    to_tier: int | None = None,
    to_management: bool = False,
    review_pending: bool = False,
) -> Escalation:
    """Record the escalation and move the ticket: one transaction (the caller's, who tells who must hear)."""
    escalation = Escalation.objects.create(
        ticket=ticket,
        at=now,
        reason=reason,
        rule=rule,
        from_tier=ticket.tier,
        to_tier=to_tier or ticket.tier,
        to_management=to_management,
        actor=actor,
        note=note,
        review_pending=review_pending,
    )
    if to_tier and to_tier != ticket.tier:
        moved = ticket_services.ticket_move_to_tier(ticket=ticket, tier=to_tier, actor=actor, now=now)
        ticket.tier, ticket.tier_entered_at = moved.tier, moved.tier_entered_at
    return escalation


MANUAL_REASONS = {
    Escalation.Reason.CUSTOMER_REQUEST,
    Escalation.Reason.TECHNICAL_COMPLEXITY,
    Escalation.Reason.RESOURCE_CONSTRAINTS,
}


def _already_requested(ticket: Ticket, asked: Escalation | None, actor: User) -> EscalationAlreadyRequested:
    on = f" on {placeholders.when(asked.at)}" if asked is not None else ""
    if actor.pk == ticket.requester_id:
        return EscalationAlreadyRequested(
            f"You have already asked us to escalate this ticket{on}. A team lead reviews every request, "
            "so there is no need to ask again."
        )
    return EscalationAlreadyRequested(
        f"The customer already asked to escalate {ticket.reference}{on}: one request per ticket, reviewed by "
        "a lead. To escalate it further, give the desk's own reason."
    )


@transaction.atomic
def ticket_escalate(
    *, ticket: Ticket, actor: User, reason: str, note: str = "", now: datetime, from_tier: int | None = None
) -> Escalation:
    """A person escalates the ticket.

    - A customer's request (customer_request: the customer on their own ticket, or an
      agent recording it for them) happens once per ticket: the ticket goes up one
      tier (it stays in Tier 3 at the top, never reaching management this way) and
      waits for a lead's review.
    - An agent, on a ticket they may change (permissions.can_change_ticket), sends
      it to the next tier, or to management from Tier 3, once: a ticket already with
      management (by a rule or by hand) is not sent there again.

    ``from_tier``: the tier the person saw; if the ticket has moved since (a second
    click, or someone else escalated first), nothing happens and they are told.

    :raises NotAllowed: a customer using an agent's reason, or on someone else's ticket
    :raises OutsideYourTier: an agent, on a ticket above their tier not assigned to them
    :raises EscalationAlreadyRequested: the customer has asked before, on this ticket
    :raises AlreadyWithManagement: an agent escalating from Tier 3 what management already has
    :raises EscalationRefused: a closed or resolved ticket, or one moved since ``from_tier``
    """
    if reason not in MANUAL_REASONS:
        raise DomainError(gettext("Unknown reason “%(reason)s”.") % {"reason": reason}, field="reason")
    is_agent = ticket_permissions.can_work_ticket(actor)
    if not is_agent:
        if ticket.requester_id != actor.pk:
            raise ticket_services.NotAllowed(gettext("You may not escalate this ticket."))
        if reason != Escalation.Reason.CUSTOMER_REQUEST:
            raise ticket_services.NotAllowed(gettext("Customers can only ask for an escalation."), field="reason")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if not ticket.is_active:
        raise EscalationRefused(gettext("Only open tickets can be escalated."))
    customer_request = reason == Escalation.Reason.CUSTOMER_REQUEST
    if customer_request:
        asked = Escalation.objects.filter(ticket=ticket, reason=Escalation.Reason.CUSTOMER_REQUEST).first()
        if asked is not None:
            raise _already_requested(ticket, asked, actor)
    if from_tier is not None and ticket.tier != from_tier:
        raise EscalationRefused(
            gettext(
                "%(reference)s is in Tier %(tier)s now, not Tier %(from_tier)s: it was escalated or moved "
                "since the page was loaded. Nothing was changed."
            )
            % {"reference": ticket.reference, "tier": ticket.tier, "from_tier": from_tier}
        )
    if is_agent:  # checked on the ticket as it is now: a double click is told it moved, not that it is out of reach
        ticket_services.ticket_check_may_change(ticket=ticket, actor=actor)
    top = max(Ticket.Tier.values)
    to_management = not customer_request and ticket.tier >= top
    if to_management:
        since = Escalation.objects.filter(ticket=ticket, to_management=True).first()
        if since is not None:
            raise AlreadyWithManagement(
                f"{ticket.reference} has been with management since {placeholders.when(since.at)}; "
                "it is not sent there twice. Nothing was changed."
            )
    try:
        with transaction.atomic():
            escalation = _escalate(
                ticket=ticket,
                now=now,
                reason=reason,
                actor=actor,
                note=note.strip()[:2000],
                to_tier=min(ticket.tier + 1, top),
                to_management=to_management,
                review_pending=customer_request,
            )
    except IntegrityError as exc:  # escalation_customer_once_per_ticket: another request got in first
        if not customer_request:
            raise
        raise _already_requested(ticket, None, actor) from exc
    # The new tier's response clock starts; with management, the management rules have
    # nothing left to do: the sweep need not look at them again.
    sla_refresh(ticket=ticket, now=now)
    return escalation


@transaction.atomic
def escalation_review(*, ticket: Ticket, actor: User, now: datetime) -> Escalation:
    """A lead has reviewed the customer's escalation request: the ticket waits for review no more.

    :raises NotAllowed: ``actor`` is not a lead (a manager or admin)
    :raises EscalationRefused: nothing on the ticket waits for a lead's review
    """
    if not ticket_permissions.can_review_escalations(actor):
        raise ticket_services.NotAllowed(gettext("Only a lead (a manager or admin) can review escalation requests."))
    pending = Escalation.objects.select_for_update().filter(ticket=ticket, review_pending=True).first()
    if pending is None:
        raise EscalationRefused(
            gettext("Nothing on %(reference)s waits for a lead's review.") % {"reference": ticket.reference}
        )
    pending.review_pending, pending.reviewed_at, pending.reviewed_by = False, now, actor
    pending.save(update_fields=["review_pending", "reviewed_at", "reviewed_by"])
    return pending


# --- the sweep --------------------------------------------------------------------


@dataclass
class SweepResult:
    examined: int = 0
    escalated: int = 0
    breached: int = 0
    warned: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return (
            f"examined {self.examined}, escalated {self.escalated}, breaches {self.breached}, "
            f"warnings {self.warned}, skipped (locked or changed) {self.skipped}"
        )

    def add(self, other: SweepResult) -> None:
        for name in ("examined", "escalated", "breached", "warned", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Writes:
    """What a batch of the sweep writes, in a few statements at its end."""

    breaches: list[SlaBreach] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    tier_events: list[TicketEvent] = field(default_factory=list)
    warnings: list[BreachWarning] = field(default_factory=list)


def sweep_ticket(
    *,
    ticket_id: int,
    now: datetime,
    book: selectors.PolicyBook,
    result: SweepResult,
    changed: TicketsChanged,
    happened: SlaEvents | None = None,
) -> None:
    """Handle everything due on one ticket, in one transaction, under its row lock."""
    sweep_tickets(ticket_ids=[ticket_id], now=now, book=book, result=result, changed=changed, happened=happened)


def sweep_tickets(
    *,
    ticket_ids: list[int],
    now: datetime,
    book: selectors.PolicyBook,
    result: SweepResult,
    changed: TicketsChanged,
    happened: SlaEvents | None = None,
) -> None:
    """Handle everything due on a batch of tickets, in one transaction, under their row locks.

    Everything the tickets' moments depend on is read once for the batch, under the
    locks; what the batch does is written in a few statements at its end. A
    unique-constraint conflict (a writer that does not lock) rolls the batch back
    and it is done again one ticket at a time; a single ticket that still conflicts
    stays due for the next sweep. ``result`` counts only what committed. At the end of
    the batch's transaction ``happened`` is called with its breaches, warnings and
    escalations, then ``changed`` with its tickets.
    """
    done = SweepResult()
    try:
        with transaction.atomic():
            _sweep_locked(ticket_ids=ticket_ids, now=now, book=book, result=done, changed=changed, happened=happened)
    except IntegrityError:
        if len(ticket_ids) > 1:
            for ticket_id in ticket_ids:
                sweep_tickets(
                    ticket_ids=[ticket_id], now=now, book=book, result=result, changed=changed, happened=happened
                )
            return
        logger.warning("SLA sweep: ticket %s changed under us; it stays due for the next sweep", ticket_ids[0])
        result.skipped += 1
        return
    result.add(done)


def _escalations_by_ticket(ticket_ids: list[int]) -> dict[int, EscalatedSoFar]:
    """Each ticket's fired rules and whether management has it, in one query."""
    so_far: dict[int, EscalatedSoFar] = {}
    rows = Escalation.objects.filter(
        Q(rule__isnull=False) | Q(to_management=True), ticket_id__in=ticket_ids
    ).values_list("ticket_id", "rule_id", "to_management")
    for ticket_id, rule_id, to_management in rows:
        seen = so_far.setdefault(ticket_id, EscalatedSoFar())
        if rule_id is not None:
            seen.rules.add(rule_id)
        seen.with_management = seen.with_management or to_management
    return so_far


def _breaches_by_ticket(ticket_ids: list[int]) -> dict[int, set[tuple[str, datetime]]]:
    recorded: dict[int, set[tuple[str, datetime]]] = {}
    for ticket_id, kind, due_at in SlaBreach.objects.filter(ticket_id__in=ticket_ids).values_list(
        "ticket_id", "kind", "due_at"
    ):
        recorded.setdefault(ticket_id, set()).add((kind, due_at))
    return recorded


def _sweep_locked(
    *,
    ticket_ids: list[int],
    now: datetime,
    book: selectors.PolicyBook,
    result: SweepResult,
    changed: TicketsChanged,
    happened: SlaEvents | None,
) -> None:
    tickets = list(
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("assignee")
        .filter(pk__in=ticket_ids, sla_next_check_at__lte=now)
        .order_by("pk")
    )
    result.skipped += len(set(ticket_ids)) - len(tickets)  # locked by a writer or another sweep, or handled meanwhile
    if not tickets:
        return
    ids = [ticket.pk for ticket in tickets]
    pauses = selectors.pauses_by_ticket(ids)
    so_far = _escalations_by_ticket(ids)
    recorded = _breaches_by_ticket(ids)
    writes = _Writes()
    for ticket in tickets:
        result.examined += 1
        _sweep_one(
            ticket,
            now=now,
            book=book,
            pauses=pauses.get(ticket.pk, ()),
            so_far=so_far.setdefault(ticket.pk, EscalatedSoFar()),
            recorded=recorded.setdefault(ticket.pk, set()),
            writes=writes,
            result=result,
        )
    insert_many(writes.breaches)  # a conflict (a writer that does not lock) raises: see sweep_tickets
    insert_many(writes.escalations)
    # One UPDATE per ticket row for both the tier moves and the new plans (a row rewritten once).
    update_many(tickets, [*SLA_FIELDS, *ticket_services.TIER_FIELDS])
    ticket_services.tier_changes_save(writes.tier_events, now=now, tickets_written=True)
    if happened is not None:
        happened(SlaHappened(breaches=writes.breaches, warnings=writes.warnings, escalations=writes.escalations))
    changed(ids)


def _sweep_one(
    ticket: Ticket,
    *,
    now: datetime,
    book: selectors.PolicyBook,
    pauses: tuple[sla.Pause, ...],
    so_far: EscalatedSoFar,
    recorded: set[tuple[str, datetime]],
    writes: _Writes,
    result: SweepResult,
) -> None:
    """Act on one locked ticket's due moments, in memory and in ``writes``; then re-plan it (pure, no query)."""
    plan = plan_for(ticket, book, pauses, so_far)
    if plan is None:
        _assign(ticket, None, None)
        return
    due = [m for m in plan.moments if m.at <= now]
    breaching = {m.kind for m in due if m.what == "breach"}
    for moment in due:
        if moment.what == "breach" and moment.due_at is not None:  # (a breach always has its deadline)
            if (moment.kind, moment.due_at) in recorded:
                continue
            breach = SlaBreach(
                ticket=ticket,
                kind=moment.kind,
                due_at=moment.due_at,
                breached_at=moment.due_at,
                tier=ticket.tier,
                priority=ticket.priority,
            )
            writes.breaches.append(breach)
            recorded.add((moment.kind, moment.due_at))
            result.breached += 1
        elif moment.what == "warn":
            if moment.kind in breaching:
                continue  # the breach itself is due: a warning now would only be noise
            writes.warnings.append(
                BreachWarning(ticket=ticket, kind=moment.kind, due_at=moment.due_at, tier=ticket.tier)
            )
            result.warned += 1
        elif moment.what == "rule" and moment.rule is not None:
            rule = moment.rule
            if not _rule_applies(rule, ticket, so_far):
                continue
            to_tier = rule.to_tier if rule.action == EscalationRule.Action.MOVE_TO_TIER else None
            to_management = to_tier is None  # (a move names its tier: a constraint of the rules table)
            escalation = Escalation(
                ticket=ticket,
                at=now,
                reason=Escalation.Reason.AUTO,
                rule=rule,
                from_tier=ticket.tier,
                to_tier=ticket.tier if to_tier is None else to_tier,
                to_management=to_management,
            )
            writes.escalations.append(escalation)
            if to_tier is not None:
                event = ticket_services.tier_change(ticket, tier=to_tier, actor=None, now=now)
                if event is not None:
                    writes.tier_events.append(event)
            so_far.rules.add(rule.pk)
            so_far.with_management = so_far.with_management or to_management
            result.escalated += 1
    # Re-plan after acting (an escalation moves the tier and starts its clock): pure, no query.
    plan = plan_for(ticket, book, pauses, so_far)
    upcoming = [m.at for m in plan.moments if m.at > now] if plan else []
    _assign(ticket, plan, min(upcoming) if upcoming else None)


def escalation_sweep(
    *, now: datetime, changed: TicketsChanged, happened: SlaEvents | None = None, limit: int = 5000
) -> SweepResult:
    """One sweep: every ticket with SLA work due at ``now``, a batch at a time; cost grows with what is due.

    Inside each batch's transaction, ``happened`` gets what the batch did (breaches, warnings,
    escalations) and ``changed`` its ticket ids: support.usecases.sla_sweep queues the alerts
    and refreshes the reports' facts with them.
    """
    result = SweepResult()
    SweepRun.objects.update_or_create(name=SWEEP, defaults={"last_started_at": now})
    due_ids = selectors.due_ticket_ids(now=now, limit=limit)
    if due_ids:
        book = selectors.policy_book(fresh=True)
        size = max(1, settings.SLA_SWEEP_BATCH)
        for start in range(0, len(due_ids), size):
            batch = due_ids[start : start + size]
            sweep_tickets(ticket_ids=batch, now=now, book=book, result=result, changed=changed, happened=happened)
    SweepRun.objects.filter(name=SWEEP).update(
        last_finished_at=now, examined=result.examined, escalated=result.escalated, breached=result.breached
    )
    if result.examined:
        logger.info("SLA sweep at %s: %s", now.isoformat(), result)
    return result


def sla_recompute_open(
    *,
    now: datetime,
    priorities: list[str] | None = None,
    dry_run: bool = False,
    changed: TicketsChanged | None = None,
) -> list[dict]:
    """Recompute the deadlines of open tickets after a policy or calendar change.

    Returns one row per ticket whose deadlines move: reference and how far each
    moves. With ``dry_run`` nothing is written (the admin's preview). ``changed`` gets
    each moved ticket's id inside its transaction (support.usecases.sla_recompute_open).
    """
    book = selectors.policy_book(fresh=True)
    tickets = Ticket.objects.filter(status__in=Ticket.ACTIVE_STATUSES)
    if priorities:
        tickets = tickets.filter(priority__in=priorities)
    moved: list[dict] = []
    for ticket in tickets.iterator(chunk_size=500):
        with transaction.atomic():
            pauses = selectors.pauses_of(ticket)
            plan = plan_for(ticket, book, pauses, _escalated_so_far(ticket))
            if plan is None:
                continue
            new, old = plan.deadlines, (ticket.first_response_due_at, ticket.resolution_due_at)
            shift = {
                "first_response": _shift(old[0], new.first_response_due_at),
                "resolution": _shift(old[1], new.resolution_due_at),
            }
            if any(shift.values()):
                moved.append({"reference": ticket.reference, **shift})
            if not dry_run:
                _store(ticket, plan, plan.moments[0].at if plan.moments else None)
                if any(shift.values()) and changed is not None:
                    changed([ticket.pk])
    return moved


def _shift(old: datetime | None, new: datetime | None) -> timedelta | None:
    if old == new:
        return None
    if old is None or new is None:
        return timedelta(0)
    return new - old
