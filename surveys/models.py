"""Satisfaction: the requester's rating of a resolved ticket and the emailed survey links.

Fields, choices and constraints only: every state change lives in services.py, every read in selectors.py.
The tables were tickets' until the app was split out (migrations: tickets 0007, surveys 0001).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tickets.models import Ticket


class Rating(models.Model):
    """The requester's satisfaction with a resolved ticket: one per ticket, replaceable for 7 days."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for ticket {self.ticket_id}"


class SurveyToken(models.Model):
    """One emailed survey link. The link is signed; this row makes it single-use."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="survey_tokens")
    # 128 bits from secrets.token_urlsafe(16): the link's nonce, also inside the signature.
    nonce = models.CharField(max_length=43, unique=True)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"survey link for ticket {self.ticket_id}"
