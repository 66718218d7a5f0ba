"""``python manage.py run_escalations [--at ISO-8601]``: one SLA sweep, now or as of a given moment.

For operations and replay: it runs the same service as the beat
(``escalation_sweep``), so running it beside the beat, or twice, is harmless.
It prints the sweep's summary and one line per escalation and breach it
recorded. ``--at`` must carry its offset (2026-03-02T09:31:00+00:00 or ...Z):
a naive time would be guessed in some zone, and a replay must not guess.
"""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from escalation.models import Escalation, SlaBreach
from support import usecases


def parse_moment(value: str) -> datetime:
    """An aware datetime from ISO 8601, or CommandError saying what is wrong with it."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise CommandError(
            f"--at {value!r} is not an ISO 8601 date and time; write it like 2026-03-02T09:31:00+00:00."
        ) from exc
    if timezone.is_naive(moment):
        raise CommandError(
            f"--at {value!r} has no UTC offset; add one (2026-03-02T09:31:00+00:00, or Z for UTC) "
            "so the sweep knows which moment you mean."
        )
    return moment


class Command(BaseCommand):
    help = "Run one SLA sweep now, or as of --at (ISO 8601 with an offset), and print what it did."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="sweep as of this moment, e.g. 2026-03-02T09:31:00+00:00 (default: now)")

    def handle(self, *args, **options) -> None:
        now = timezone.now() if options["at"] is None else parse_moment(options["at"])
        newest_escalation = Escalation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        newest_breach = SlaBreach.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

        result = usecases.sla_sweep(now=now)

        self.stdout.write(f"SLA sweep as of {now.isoformat()}: {result}")
        if options["at"] is not None:
            self.stdout.write(
                "Note: the sweep's heartbeat (GET /readyz/) now carries this moment until the next beat runs."
            )
        escalations = (
            Escalation.objects.filter(pk__gt=newest_escalation, at=now).select_related("ticket", "rule").order_by("pk")
        )
        for escalation in escalations:
            target = "management" if escalation.to_management else f"Tier {escalation.to_tier}"
            rule = escalation.rule.name if escalation.rule else escalation.get_reason_display()
            self.stdout.write(
                f"escalated {escalation.ticket.reference} from Tier {escalation.from_tier} to {target} ({rule})"
            )
        breaches = SlaBreach.objects.filter(pk__gt=newest_breach).select_related("ticket").order_by("pk")
        for breach in breaches:
            self.stdout.write(
                f"breach {breach.ticket.reference}: {breach.get_kind_display().lower()} "
                f"was due at {breach.due_at.isoformat()}"
            )
