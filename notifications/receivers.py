"""The notifications app's own model signals: edited message templates are forgotten by the template cache."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import messages
from .models import CommunicationTemplate


@receiver((post_save, post_delete), sender=CommunicationTemplate, dispatch_uid="notifications.templates_forget")
def on_template_saved(**_: object) -> None:
    """Forget the cached templates now (this transaction sees the edit) and again after commit.

    A render between the save and a rollback caches the edit for up to the cache's TTL (30 s).
    """
    messages.templates_forget()
    transaction.on_commit(messages.templates_forget)
