"""Post-incident reviews: the procedures' action items, their due times, edits, overdue items, the document.

A review is opened once per incident, after it is resolved (``open_review``: a second call
returns the first review). It holds the procedures' twelve action items ("Post-Incident
Procedures" in the procedures document), each with an owner (the incident's commander to
begin with), a due time counted from the resolution, done or not, notes, and the
knowledge-base articles a runbook update changed.

**The calendar of the due times** is the severity's SLA calendar (the policy book):

- P0/P1 run 24x7: 2 hours, 48 hours and 1 week of clock time after the resolution;
- P2/P3 run on business hours (Mon-Fri 09:00-18:00 Europe/London as seeded): 2 business hours,
  2 business days and 5 business days, the desk's rule that 24 h is a business day and a week
  five of them. A P2 resolved on Friday at 17:30 has its immediate items due on Monday at
  10:30, its follow-up items on Tuesday at 17:30 and its long-term items on Friday at 17:30.

Every change writes a ``review`` event on the incident's timeline, in the same transaction.
Nothing here tells anyone: ``support.usecases.review_sweep`` reads ``overdue_items`` and has
notifications alert the owner and the commander, once per item and due time.

The document is markdown, rendered through knowledge's sanitiser like an article
(``render_document``); ``review_markdown`` writes the whole review as one markdown text:
the summary, MTTD and MTTR, the timeline from the incident's events, the action items,
then the free document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext

from accounts import permissions as roles
from escalation import selectors as sla_selectors
from escalation import sla
from knowledge import rendering
from knowledge.models import Article
from sofacover.errors import Conflict, DomainError
from tickets.placeholders import when

from .models import Incident, IncidentEvent, Review, ReviewItem

Phase = ReviewItem.Phase

# The procedures document's "Post-Incident Procedures", in its order: (phase, title) per item.
PROCEDURE: tuple[tuple[str, str], ...] = (
    (Phase.IMMEDIATE, "Customer communication: notify affected customers"),
    (Phase.IMMEDIATE, "Internal debrief: quick team discussion"),
    (Phase.IMMEDIATE, "Monitoring: enhanced monitoring for 24 hours"),
    (Phase.IMMEDIATE, "Documentation: update the incident log"),
    (Phase.FOLLOW_UP, "Root cause analysis: detailed investigation"),
    (Phase.FOLLOW_UP, "Post-mortem meeting: team retrospective"),
    (Phase.FOLLOW_UP, "Action items: identify prevention measures"),
    (Phase.FOLLOW_UP, "Process updates: improve procedures if needed"),
    (Phase.LONG_TERM, "System improvements: implement fixes"),
    (Phase.LONG_TERM, "Monitoring enhancements: add new alerts"),
    (Phase.LONG_TERM, "Documentation updates: update runbooks (link the knowledge-base articles)"),
    (Phase.LONG_TERM, "Team training: share lessons learned"),
)
# What each phase allows, on a 24x7 calendar and on a business-hours one.
PHASE_SPANS: dict[str, tuple[sla.Span, sla.Span]] = {
    Phase.IMMEDIATE: (timedelta(hours=2), timedelta(hours=2)),
    Phase.FOLLOW_UP: (timedelta(hours=48), sla.BusinessDays(2)),
    Phase.LONG_TERM: (timedelta(weeks=1), sla.BusinessDays(5)),
}
# When a calendar has no open time at all (every day a holiday), the nominal wall-clock time.
NOMINAL: dict[str, timedelta] = {
    Phase.IMMEDIATE: timedelta(hours=2),
    Phase.FOLLOW_UP: timedelta(hours=48),
    Phase.LONG_TERM: timedelta(weeks=1),
}
DOCUMENT_MAX = 100_000
NOTES_MAX = 5000
# The free document a review starts with: the questions a post-mortem answers.
DOCUMENT_TEMPLATE = """\
## Root cause

## What went well

## What could have gone better

## Lessons learned"""
EDITABLE = ("owner", "done", "notes", "articles", "due_at")


# --- due times ---------------------------------------------------------------------------


def review_calendar(severity: str) -> sla.Calendar:
    """The severity's SLA calendar (24x7 for P0/P1, business hours for P2/P3 as seeded)."""
    entry = sla_selectors.policy_book().entry(severity)
    return entry.calendar if entry is not None else sla.ALWAYS


def due_times(*, severity: str, resolved_at: datetime) -> dict[str, datetime]:
    """When each phase's items are due, counted from the resolution on the severity's calendar."""
    calendar = review_calendar(severity)
    spans = [PHASE_SPANS[phase][0 if calendar.always_open else 1] for phase in PHASE_SPANS]
    found = sla.add_many(calendar, resolved_at, spans)
    return {
        phase: due if due is not None else resolved_at + NOMINAL[phase]
        for phase, due in zip(PHASE_SPANS, found, strict=True)
    }


# --- opening --------------------------------------------------------------------------------


def _event(incident: Incident, *, body: str, by: User | None, now: datetime) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEvent.Kind.REVIEW,
        at=now,
        author=by,
        status=incident.status,
        body=body[:5000],
    )


def _default_owner(incident: Incident, opened_by: User | None) -> User | None:
    """The commander; else whoever opened the review, when they work for the desk."""
    if incident.commander is not None and incident.commander.is_active:
        return incident.commander
    if opened_by is not None and roles.is_agent(opened_by):
        return opened_by
    return None


@transaction.atomic
def open_review(*, incident: Incident, now: datetime, opened_by: User | None) -> Review:
    """Open the incident's review with the procedures' twelve items; the existing one if it has one.

    :raises Conflict: the incident is not resolved (the due times count from its resolution)
    """
    incident = Incident.objects.select_for_update(of=("self",)).select_related("commander").get(pk=incident.pk)
    existing = Review.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    if incident.resolved_at is None:
        raise Conflict(
            gettext("Resolve the incident first: the review's due times count from its resolution."), field="status"
        )
    try:
        with transaction.atomic():
            review = Review.objects.create(incident=incident, opened_at=now, document=DOCUMENT_TEMPLATE)
    except IntegrityError:  # opened meanwhile by another transaction (a database without row locks)
        return Review.objects.get(incident=incident)
    due = due_times(severity=incident.severity, resolved_at=incident.resolved_at)
    owner = _default_owner(incident, opened_by)
    ReviewItem.objects.bulk_create(
        ReviewItem(review=review, phase=phase, title=title, position=n, owner=owner, due_at=due[phase])
        for n, (phase, title) in enumerate(PROCEDURE)
    )
    _event(
        incident,
        body=(
            f"Post-incident review opened: {len(PROCEDURE)} action items, "
            f"due {when(due[Phase.IMMEDIATE])}, {when(due[Phase.FOLLOW_UP])} and {when(due[Phase.LONG_TERM])}"
            f"{f'; owner {owner.email}' if owner is not None else ''}."
        ),
        by=opened_by,
        now=now,
    )
    return review


# --- edits ----------------------------------------------------------------------------------


def _who(person: User | None) -> str:
    return person.email or person.username if person is not None else "nobody"


def _lock_item(item: ReviewItem) -> ReviewItem:
    return (
        ReviewItem.objects.select_for_update(of=("self",)).select_related("review__incident", "owner").get(pk=item.pk)
    )


@transaction.atomic
def item_update(*, item: ReviewItem, by: User | None, now: datetime, **changes: Any) -> ReviewItem:
    """Change an action item, all or nothing: ``owner`` (an agent, or None), ``done`` (bool),
    ``notes``, ``articles`` (knowledge-base articles) and ``due_at``. The incident's timeline says
    what changed. A new due time in the future may alert again once it passes.

    :raises DomainError: an unknown field, an owner who is not an agent, notes too long, a due
        time before the resolution
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(gettext("Cannot change %(names)s.") % {"names": ", ".join(sorted(unknown))})
    item = _lock_item(item)
    incident = item.review.incident
    said: list[str] = []
    fields: list[str] = []
    if "owner" in changes:
        owner = changes["owner"]
        if owner is not None and not roles.is_agent(owner):
            raise DomainError(gettext("The owner must be an agent or a manager."), field="owner")
        if (owner.pk if owner else None) != item.owner_id:
            said.append(f"owner {_who(item.owner)} → {_who(owner)}")
            item.owner = owner
            fields.append("owner")
    if "due_at" in changes:
        due_at = changes["due_at"]
        if not isinstance(due_at, datetime) or due_at.tzinfo is None:
            raise DomainError(gettext("Give the due time as a date and time."), field="due_at")
        if incident.resolved_at is not None and due_at < incident.resolved_at:
            raise DomainError(gettext("It cannot be due before the incident was resolved."), field="due_at")
        if due_at != item.due_at:
            said.append(f"due {when(item.due_at)} → {when(due_at)}")
            item.due_at = due_at
            fields.append("due_at")
            if due_at > now and item.overdue_alerted_at is not None:
                item.overdue_alerted_at = None  # the new due time is watched afresh
                fields.append("overdue_alerted_at")
    if "notes" in changes:
        notes = (changes["notes"] or "").strip()
        if len(notes) > NOTES_MAX:
            raise DomainError(gettext("At most %(count)s characters of notes.") % {"count": NOTES_MAX}, field="notes")
        if notes != item.notes:
            said.append("notes edited")
            item.notes = notes
            fields.append("notes")
    if "done" in changes:
        done = bool(changes["done"])
        if done != (item.done_at is not None):
            said.append("done" if done else "not done")
            item.done_at = now if done else None
            fields.append("done_at")
    if fields:
        item.save(update_fields=fields)
    if "articles" in changes:
        wanted: Sequence[Article] = list(changes["articles"] or [])
        if {a.pk for a in wanted} != set(item.articles.values_list("pk", flat=True)):
            item.articles.set(wanted)
            said.append("articles: " + (", ".join(a.slug for a in wanted) or "none"))
    if said:
        _event(incident, body=f'Review item "{item.title}": {"; ".join(said)}.', by=by, now=now)
        if "done_at" in fields:
            _follow_completion(item.review, by=by, now=now)
    return item


def _follow_completion(review: Review, *, by: User | None, now: datetime) -> None:
    """The review is complete when every item is done; undoing one reopens it."""
    open_items = review.items.filter(done_at__isnull=True).exists()
    if not open_items and review.completed_at is None:
        review.completed_at = now
        review.save(update_fields=["completed_at"])
        _event(review.incident, body="Post-incident review completed: every action item is done.", by=by, now=now)
    elif open_items and review.completed_at is not None:
        review.completed_at = None
        review.save(update_fields=["completed_at"])
        _event(review.incident, body="Post-incident review reopened: an action item is not done.", by=by, now=now)


@transaction.atomic
def document_edit(*, review: Review, document: str, by: User | None, now: datetime) -> Review:
    """Replace the review's free document (markdown; sanitised wherever it is shown)."""
    document = document.replace("\x00", "").replace("\r\n", "\n").rstrip()
    if len(document) > DOCUMENT_MAX:
        raise DomainError(gettext("At most %(count)s characters.") % {"count": f"{DOCUMENT_MAX:,}"}, field="document")
    review = Review.objects.select_for_update(of=("self",)).select_related("incident").get(pk=review.pk)
    if document != review.document.rstrip():
        review.document = document
        review.save(update_fields=["document"])
        _event(review.incident, body="Review document edited.", by=by, now=now)
    return review


# --- overdue items --------------------------------------------------------------------------


def overdue_items(now: datetime) -> QuerySet[ReviewItem]:
    """Items past their due time, not done and not alerted yet, earliest first (review_item_overdue_idx)."""
    return (
        ReviewItem.objects.filter(done_at__isnull=True, overdue_alerted_at__isnull=True, due_at__lt=now)
        .select_related("owner", "review__incident__commander")
        .order_by("due_at", "id")
    )


def overdue_alerted(*, items: Iterable[ReviewItem], now: datetime) -> int:
    """Mark the items whose overdue alert was queued: the sweep passes them by from now on."""
    return ReviewItem.objects.filter(pk__in=[i.pk for i in items], overdue_alerted_at__isnull=True).update(
        overdue_alerted_at=now
    )


# --- reads ----------------------------------------------------------------------------------


def review_list() -> QuerySet[Review]:
    """Reviews, newest first, with their incident and item counts."""
    return (
        Review.objects.select_related("incident", "incident__commander")
        .annotate(
            items_total=Count("items"),
            items_done=Count("items", filter=Q(items__done_at__isnull=False)),
        )
        .order_by("-opened_at", "-id")
    )


def review_of(incident: Incident) -> Review | None:
    return Review.objects.filter(incident=incident).first()


def items_of(review: Review) -> QuerySet[ReviewItem]:
    return review.items.select_related("owner").prefetch_related("articles").order_by("due_at", "position", "id")


# --- the document ---------------------------------------------------------------------------


def render_document(review: Review) -> str:
    """The free document as sanitised HTML (knowledge's markdown rendering: nh3, the desk's allow-list)."""
    return rendering.render_markdown(review.document)


def duration_text(value: timedelta | None) -> str:
    """``1 h 05 min``, ``3 min 20 s``, ``2 d 4 h``; an em dash when unknown."""
    if value is None:
        return "—"
    seconds = max(0, round(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


@dataclass(frozen=True)
class Summary:
    """What the review says about the incident, before its items and free document."""

    reference: str
    title: str
    severity: str
    fields: list[tuple[str, str]]
    timeline: list[tuple[str, str, str]]  # (when, what, body)
    items: list[tuple[str, list[tuple[str, str, str, str, str]]]]  # (phase label, [(title, owner, due, done, notes)])


def mttd(incident: Incident) -> timedelta:
    return incident.detected_at - incident.started_at


def mttr(incident: Incident) -> timedelta | None:
    return incident.resolved_at - incident.started_at if incident.resolved_at is not None else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def review_summary(review: Review, *, now: datetime | None = None) -> Summary:
    """The review's parts as text, for the markdown and the PDF alike (five queries)."""
    incident = Incident.objects.select_related("commander", "declared_by").get(pk=review.incident_id)
    components = ", ".join(c.name for c in incident.components.all()) or "—"
    users = f" ({incident.users_affected:,} users affected)" if incident.users_affected is not None else ""
    fields = [
        ("Severity", incident.get_severity_display()),
        ("Status", incident.get_status_display()),
        ("Impact", _one_line(incident.impact) + users),
        ("Components", components),
        ("Commander", _who(incident.commander)),
        ("Declared by", _who(incident.declared_by)),
        ("Started", when(incident.started_at)),
        ("Detected", when(incident.detected_at)),
        ("Declared", when(incident.declared_at)),
        ("Resolved", when(incident.resolved_at, missing="not yet")),
        ("MTTD (detected - started)", duration_text(mttd(incident))),
        ("MTTR (resolved - started)", duration_text(mttr(incident))),
        ("What happened", _one_line(incident.what_happened) or "—"),
        ("Resolution", _one_line(incident.resolution) or "—"),
        ("Prevention", _one_line(incident.prevention) or "—"),
        ("Review opened", when(review.opened_at)),
        ("Review completed", when(review.completed_at, missing="not yet")),
    ]
    timeline = []
    for event in incident.events.select_related("author").order_by("at", "id"):
        what = event.get_kind_display()
        if event.kind == IncidentEvent.Kind.STATUS:
            what = f"{what}: {event.get_status_display()}"
        who = f" by {_who(event.author)}" if event.author is not None else ""
        public = " (public)" if event.public else ""
        timeline.append((when(event.at), f"{what}{who}{public}", event.body))
    phases: dict[str, list[tuple[str, str, str, str, str]]] = {p.value: [] for p in Phase}
    for item in items_of(review):
        done = when(item.done_at) if item.done_at is not None else "not done"
        if item.done_at is None and now is not None and item.due_at < now:
            done = "OVERDUE"
        articles = ", ".join(a.title for a in item.articles.all())
        notes = item.notes + (f"\nArticles: {articles}" if articles else "")
        phases[item.phase].append((item.title, _who(item.owner), when(item.due_at), done, notes))
    return Summary(
        reference=incident.reference,
        title=incident.title,
        severity=incident.severity,
        fields=fields,
        timeline=timeline,
        items=[(str(Phase(p).label), rows) for p, rows in phases.items() if rows],
    )


def _indented(text: str, prefix: str = "  ") -> str:
    """Continuation lines indented under a list item, so a multi-line body stays in it."""
    lines = text.strip().splitlines()
    return "\n".join([lines[0], *(f"{prefix}{line}" if line.strip() else "" for line in lines[1:])]) if lines else ""


def review_markdown(review: Review, *, now: datetime | None = None) -> str:
    """The whole review as markdown: summary, MTTD/MTTR, timeline, action items, then the free document."""
    s = review_summary(review, now=now)
    out = [f"# Post-incident review: {s.reference} {s.title}", ""]
    out += [f"- **{label}:** {value}" for label, value in s.fields]
    out += ["", "## Timeline", ""]
    for at, what, body in s.timeline:
        line = f"- **{at}** — {what}"
        out.append(f"{line}: {_indented(body)}" if body.strip() else line)
    out += ["", "## Action items", ""]
    for phase, rows in s.items:
        out += [f"### {phase}", "", "| Action | Owner | Due | Done |", "|---|---|---|---|"]
        for title, owner, due, done, _ in rows:
            out.append(f"| {_cell(title)} | {_cell(owner)} | {due} | {done} |")
        notes = [(title, notes) for title, _, _, _, notes in rows if notes.strip()]
        if notes:
            out.append("")
            out += [f"- *{title}*: {_indented(text)}" for title, text in notes]
        out.append("")
    out += ["## Review", "", review.document.strip(), ""]
    return "\n".join(out)


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped."""
    return _one_line(text).replace("|", "\\|")
