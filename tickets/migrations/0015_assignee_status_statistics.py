"""PostgreSQL's statistics of who has a ticket, its status and its tier together, so the planner knows
how few tickets nobody has are still active, in each tier.

Its per-column statistics multiply the share of tickets nobody has by the share of active ones (and by the
tier's). On a desk where thousands of tickets were closed without anyone taking them (spam, customers who
solved it themselves), that guessed hundreds of active unassigned tickets where there were a handful, and
the agent home's "unassigned in my tier" count walked the foreign key's index over every ticket nobody
ever had, closed ones included: a cost that grew with the desk's history. A most-common-values list of the
three gives the real share, and the count reads an index of the active unassigned tickets only
(``tests/support/test_agent_home.py::TestAgentHomePlans``). SQLite has no such statistics.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE STATISTICS IF NOT EXISTS ticket_assignee_status_stats (mcv) ON assignee_id, status, tier FROM tickets_ticket",
    "ANALYZE tickets_ticket",
]
PG_BACKWARD = ["DROP STATISTICS IF EXISTS ticket_assignee_status_stats"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0014_unassigned_index")]

    operations = [migrations.RunPython(_run(PG_FORWARD), _run(PG_BACKWARD))]
