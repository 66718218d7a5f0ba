"""What accounts stores beyond Django's User and Group: customers' organisations (a manager groups the
customers of one company and may let them see each other's tickets, read-only and public messages only,
by opting the organisation in: ``shared``) and a user's own settings (``Preference``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    shared = models.BooleanField(
        "members see each other's tickets",
        default=False,
        help_text=gettext_lazy(
            "Opt-in: the organisation's customers may read each other's tickets in the portal (read-only, "
            "never internal notes)."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = gettext_lazy("customer organisation")
        verbose_name_plural = gettext_lazy("customer organisations")

    def __str__(self) -> str:
        return self.name


class OrganisationMember(models.Model):
    """A customer's organisation: at most one."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organisation_membership"
    )

    class Meta:
        ordering = ["organisation", "user"]
        verbose_name = gettext_lazy("member")
        verbose_name_plural = gettext_lazy("members")

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation}"


class Preference(models.Model):
    """A user's choices about how the desk is shown to them. One row per user, made when they first save one.

    ``time_zone``: an IANA name (``Europe/Berlin``) every time is shown in; empty for the browser's zone
    (sofacover.localtime), else the desk's TIME_ZONE.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.time_zone or 'browser'}"
