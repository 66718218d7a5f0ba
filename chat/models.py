"""Live chat: who is available to take chats, and each chat session (a ticket of channel ``chat``).

The transcript is the ticket's messages (tickets.Message): a session holds only what the
ticket does not — its state while live, who took it, where it waits, and what each side
has read.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket


class AgentPresence(models.Model):
    """An agent's availability for live chat (away when there is no row)."""

    agent = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_presence")
    available = models.BooleanField(default=False)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("agent availability")
        verbose_name_plural = _("agent availability")

    def __str__(self) -> str:
        return f"{self.agent} {'available' if self.available else 'away'}"


class ChatSession(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="chat")
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chats")
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tier = models.PositiveSmallIntegerField(default=1)
    arrived_at = models.DateTimeField(help_text=_("When the chat joined the queue (again, after a transfer)."))
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The last message id each side has seen (read state).
    visitor_read = models.BigIntegerField(default=0)
    agent_read = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["state", "arrived_at"], name="chat_queue")]

    def __str__(self) -> str:
        return f"chat {self.pk} ({self.state})"
