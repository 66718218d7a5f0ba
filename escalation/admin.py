"""Agent console pages for the SLA engine."""

from . import admin_outbox  # noqa: F401  (outbox, templates and alert routing pages)
