"""What accounts stores beyond Django's User and Group: a user's own settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Preference(models.Model):
    """A user's choices about how the desk is shown to them. One row per user, made when they first save one.

    ``time_zone``: an IANA name (``Europe/Berlin``) every time is shown in; empty for the browser's zone
    (sofacover.localtime), else the desk's TIME_ZONE.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.time_zone or 'browser'}"
