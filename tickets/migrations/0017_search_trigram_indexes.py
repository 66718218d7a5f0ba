"""PostgreSQL: trigram indexes for the ticket search (tickets.filters.search_tickets).

The search is "contains, ignoring case" (Django's ``icontains``: ``UPPER(column::text) LIKE UPPER('%…%')``)
over a ticket's subject and description, its messages' text and its requester's email. Without an index
each search read every ticket and every message (334 ms at 100,000 tickets); a GIN index of the trigrams of
each expression answers the LIKE. Built CONCURRENTLY (outside a transaction), so a live desk keeps
writing while they build. The requester's email is ``auth_user.username``: its index is on Django's table.
SQLite has no trigram indexes; its searches read the tables as before.
"""

from django.conf import settings
from django.db import migrations

INDEXES = {
    "ticket_subject_trgm_idx": "tickets_ticket USING gin (UPPER(subject::text) gin_trgm_ops)",
    "ticket_description_trgm_idx": "tickets_ticket USING gin (UPPER(description::text) gin_trgm_ops)",
    "message_body_trgm_idx": "tickets_message USING gin (UPPER(body::text) gin_trgm_ops)",
    "user_username_trgm_idx": "auth_user USING gin (UPPER(username::text) gin_trgm_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0016_unassigned_tier_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create, drop)]
