"""Agent console pages for notifications: the outbox, templates and alert routing."""
