"""The reports app stores nothing of its own but the permission to read the reports."""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    """No table: the anchor of the ``reports.view_reports`` permission (granted to Managers and Admins)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can view the management reports, their CSV exports and the reports API")]

    def __str__(self) -> str:
        return "reports"
