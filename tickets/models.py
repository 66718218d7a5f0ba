"""Tickets, their messages, attachments and timeline.

Fields, choices, constraints and indexes only: every state change lives in
services.py, every read in selectors.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast, Concat, Right
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

TEXT = models.CharField()


class Ticket(models.Model):
    class Priority(models.TextChoices):
        P0 = "P0", _("P0 Critical")
        P1 = "P1", _("P1 High")
        P2 = "P2", _("P2 Medium")
        P3 = "P3", _("P3 Low")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING_CUSTOMER = "pending_customer", _("Pending customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Tier(models.IntegerChoices):
        TIER_1 = 1, gettext_lazy("Tier 1")
        TIER_2 = 2, gettext_lazy("Tier 2")
        TIER_3 = 3, gettext_lazy("Tier 3")

    class Channel(models.TextChoices):
        PORTAL = "portal", gettext_lazy("Portal")
        EMAIL = "email", gettext_lazy("Email")
        PHONE = "phone", gettext_lazy("Phone")
        CHAT = "chat", gettext_lazy("Chat")
        API = "api", gettext_lazy("API")

    class Category(models.TextChoices):
        SITE_PERFORMANCE = "site_performance", _("Site performance")
        AUTHENTICATION = "authentication", _("Authentication")
        PAYMENT = "payment", _("Payment")
        DATABASE = "database", _("Database")
        ORDERS = "orders", _("Orders")
        OTHER = "other", _("Other")

    ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER)

    # Derived by the database from the primary key as the row is inserted (reference_for): SCP-000042.
    reference = models.GeneratedField(
        expression=Case(
            When(id__lt=1_000_000, then=Concat(Value("SCP-"), Right(Concat(Value("00000"), Cast("id", TEXT)), 6))),
            default=Concat(Value("SCP-"), Cast("id", TEXT)),
        ),
        output_field=models.CharField(max_length=20),
        db_persist=True,
        unique=True,
    )
    subject = models.CharField(max_length=200)
    description = models.TextField(max_length=20000)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P2)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.TIER_1)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.OTHER)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    # The latest public reply by an agent: restarts the update timer.
    last_agent_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the ticket entered its current tier: that tier's response clock starts here.
    tier_entered_at = models.DateTimeField(null=True, blank=True)
    # What the agent who resolved it tells the customer (the resolution mail's "Resolution");
    # required when an agent resolves a P0/P1, cleared when the ticket is reopened.
    resolution_note = models.TextField(blank=True, max_length=5000)

    # SLA deadlines. Written by the SLA engine (escalation app) from one pure
    # function of policy, calendar and the ticket's history; null while a clock
    # is paused, met, or not applicable. tickets/ never computes them.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    tier_response_due_at = models.DateTimeField(null=True, blank=True)
    # When 75 % of the response / resolution target has run: "at risk" from then on.
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    # The next moment the sweep must look at this ticket (a warning, a deadline
    # or an escalation rule falls due); indexed so the sweep reads only due work.
    sla_next_check_at = models.DateTimeField(null=True, blank=True)
    # Derived by the database from status, so the queue's "most urgent first"
    # (active, then resolved, then closed; P0 first; oldest first) walks an index
    # instead of sorting every ticket.
    # A duplicate merged into another ticket (support.usecases.merge_tickets): closed, and pointing at the
    # survivor, which holds its messages now.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    queue_rank = models.GeneratedField(
        expression=Case(
            When(status__in=["new", "open", "pending_customer"], then=Value(0)),
            When(status="resolved", then=Value(1)),
            default=Value(2),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["priority", "created_at"]
        indexes = [
            # The queue: most urgent first, in the order the index stores.
            models.Index(fields=["queue_rank", "priority", "created_at", "id"], name="ticket_urgency_idx"),
            models.Index(fields=["status", "priority", "created_at"], name="ticket_queue_idx"),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_idx"),
            # A customer's tickets, most urgent first (the portal's "my tickets", the API for customers): read
            # from the index. Without it the planner walks ticket_urgency_idx past everyone else's tickets,
            # which at a million took 200 ms.
            models.Index(
                fields=["requester", "queue_rank", "priority", "created_at", "id"], name="ticket_requester_urgency_idx"
            ),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["created_at"], name="ticket_created_idx"),
            models.Index(
                fields=["sla_next_check_at"],
                name="ticket_sla_due_idx",
                condition=Q(sla_next_check_at__isnull=False),
            ),
            # The SLA states of the console (the agent home's "due soon" and "breached", the queue's SLA
            # filter: escalation.admin_queue.clock_conditions) as index ranges over the clocks still running,
            # and the active tickets answered or resolved late: their reads cost what they find, not a scan
            # of every active ticket.
            *(
                models.Index(fields=[column], name=f"ticket_{name}_idx", condition=Q(**{f"{done}__isnull": True}))
                for name, column, done in (
                    ("resp_due_open", "first_response_due_at", "first_responded_at"),
                    ("resp_warn_open", "first_response_warn_at", "first_responded_at"),
                    ("resol_due_open", "resolution_due_at", "resolved_at"),
                    ("resol_warn_open", "resolution_warn_at", "resolved_at"),
                )
            ),
            *(
                models.Index(
                    fields=["tier"],
                    name=f"ticket_{name}_late_idx",
                    condition=Q(status__in=["new", "open", "pending_customer"], **{f"{done}__gt": F(due)}),
                )
                for name, due, done in (
                    ("resp", "first_response_due_at", "first_responded_at"),
                    ("resol", "resolution_due_at", "resolved_at"),
                )
            ),
            # The active tickets nobody has, most urgent first (the agent home's "unassigned in my tier", the
            # queue's "unassigned"): their first rows are read from this index, however many tickets are
            # assigned or done. Without it the home walked the urgency index past every assigned active
            # ticket (about 20 ms of its 74 at a million). Their count reads this or ticket_assignee_idx,
            # whichever the planner prefers, knowing how few they are from the statistics of tickets 0015.
            models.Index(
                fields=["queue_rank", "priority", "created_at", "id"],
                name="ticket_unassigned_idx",
                condition=Q(assignee__isnull=True, status__in=["new", "open", "pending_customer"]),
            ),
            # The same in one tier: an agent's "unassigned in my tier", count and first rows, read past no
            # other tier's tickets (the index above serves managers, who see every tier).
            models.Index(
                fields=["tier", "queue_rank", "priority", "created_at", "id"],
                name="ticket_unassigned_tier_idx",
                condition=Q(assignee__isnull=True, status__in=["new", "open", "pending_customer"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority__in=["P0", "P1", "P2", "P3"]), name="ticket_priority_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["new", "open", "pending_customer", "resolved", "closed"]),
                name="ticket_status_valid",
            ),
            models.CheckConstraint(condition=Q(tier__in=[1, 2, 3]), name="ticket_tier_valid"),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="ticket_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="ticket_closed_has_time",
            ),
        ]
        permissions = [
            ("work_ticket", "Can work tickets: reply, write internal notes, assign, resolve"),
        ]

    def __str__(self) -> str:
        return f"{self.reference or 'SCP-?'} {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def get_portal_url(self) -> str:
        return reverse("portal:ticket-detail", kwargs={"reference": self.reference})


def reference_for(pk: int) -> str:
    return f"SCP-{pk:06d}"


class Message(models.Model):
    """A public reply or an internal note. Internal notes never reach customers."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=50000)
    internal = models.BooleanField(default=False)
    # Whether the author worked for the desk when writing (drives first response).
    by_agent = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(internal=False) | Q(by_agent=True), name="message_internal_only_by_agents"
            )
        ]

    def __str__(self) -> str:
        kind = "note" if self.internal else "reply"
        return f"{kind} on ticket {self.ticket_id} at {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is generated; the customer's name is kept only as data.
    return f"attachments/{instance.uuid.hex[:2]}/{instance.uuid.hex}"


class Attachment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class TicketCc(models.Model):
    """Someone besides the requester who gets the ticket's public replies by email.

    Copied on the first email or added by an agent; an address, not an account, so a
    CC'd colleague needs no login. Internal notes never reach them, like the requester.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ccs")
    email = models.EmailField(max_length=254)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = gettext_lazy("CC")
        verbose_name_plural = gettext_lazy("CCs")
        constraints = [
            # Stored lower-cased (tickets.auth.normalise_email): one row per address and ticket.
            models.UniqueConstraint(fields=["ticket", "email"], name="ticket_cc_unique_email"),
        ]

    def __str__(self) -> str:
        return self.email


class TicketEvent(models.Model):
    """The ticket's timeline: who changed what, when, from what to what."""

    class Kind(models.TextChoices):
        CREATED = "created", gettext_lazy("Created")
        REPLIED = "replied", gettext_lazy("Public reply")
        NOTE_ADDED = "note_added", gettext_lazy("Internal note")
        STATUS_CHANGED = "status_changed", gettext_lazy("Status changed")
        PRIORITY_CHANGED = "priority_changed", gettext_lazy("Priority changed")
        TIER_CHANGED = "tier_changed", gettext_lazy("Tier changed")
        ASSIGNED = "assigned", gettext_lazy("Assignee changed")
        CATEGORY_CHANGED = "category_changed", gettext_lazy("Category changed")
        SUBJECT_CHANGED = "subject_changed", gettext_lazy("Subject changed")
        REOPENED = "reopened", gettext_lazy("Reopened")
        ATTACHMENT_ADDED = "attachment_added", gettext_lazy("Attachment added")
        RUNBOOK_ATTACHED = "runbook_attached", gettext_lazy("Runbook attached")
        RUNBOOK_STEP = "runbook_step", gettext_lazy("Runbook step")
        CC_ADDED = "cc_added", gettext_lazy("CC added")
        CC_REMOVED = "cc_removed", gettext_lazy("CC removed")
        MERGED_INTO = "merged_into", _("Merged into")
        MERGED_FROM = "merged_from", _("Merged from")
        SPLIT_TO = "split_to", _("Message split to")
        SPLIT_FROM = "split_from", _("Split from")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    field = models.CharField(max_length=30, blank=True)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    # Internal events (notes) are hidden from customers like the notes themselves.
    internal = models.BooleanField(default=False)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="event_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"


class SavedView(models.Model):
    """A queue an agent named: its filters, search and ordering (the queue's query string), theirs
    alone or, saved by a manager, shared with the whole team (tickets/saved_views.py)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filters, search and ordering"), max_length=1000, blank=True)
    shared = models.BooleanField(_("shared with the team"), default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_once_per_owner")]
        indexes = [models.Index(fields=["shared"], name="saved_view_shared_idx", condition=Q(shared=True))]

    def __str__(self) -> str:
        return self.name
