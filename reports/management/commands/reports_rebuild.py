"""``manage.py reports_rebuild``: recompute the reports' rollup from the tickets.

Needed once after installing the rollup on a desk that already has tickets, after
loading tickets in bulk (the loader bypasses the use cases), and after the SLA engine
recomputed deadlines of open tickets; harmless at any time (one transaction).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from reports.rollup import rollup_rebuild


class Command(BaseCommand):
    help = "Recompute the reports' facts, daily rows and duration histograms from the tickets."

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        counts = rollup_rebuild()
        self.stdout.write(
            f"Rebuilt the reports' rollup in {time.perf_counter() - started:.1f} s: {counts['facts']} facts, "
            f"{counts['daily_rows']} daily rows, {counts['histogram_rows']} histogram rows."
        )
