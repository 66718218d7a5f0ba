"""The reports as the API and the email show them: the shapes integrations rely on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import metrics
from .filters import ReportFilters


def _range(f: ReportFilters) -> dict[str, str]:
    return {"from": f.start.isoformat(), "to": f.end.isoformat()}


def report_sla(f: ReportFilters, *, now: datetime) -> dict[str, Any]:
    return {
        **_range(f),
        "priorities": [
            {
                "priority": row.priority,
                "tickets": row.tickets,
                "responded_within_target": row.responded_within_target,
                "response_target_share": row.response_target_share,
                "resolved_within_target": row.resolved_within_target,
                "resolution_target_share": row.resolution_target_share,
                "response_breaches": row.response_breaches,
                "resolution_breaches": row.resolution_breaches,
                "median_first_response_seconds": row.median_first_response_seconds,
                "median_resolution_seconds": row.median_resolution_seconds,
            }
            for row in metrics.sla_by_priority(f, now=now)
        ],
    }


def report_satisfaction(f: ReportFilters) -> dict[str, Any]:
    sat = metrics.satisfaction(f)
    return {
        **_range(f),
        "csat_average": sat.csat_average,
        "csat_target": metrics.CSAT_TARGET,
        "ratings": sat.ratings,
        "resolved_tickets": sat.resolved_tickets,
        "survey_response_rate": sat.survey_response_rate,
        "first_contact_resolution_rate": sat.first_contact_resolution_rate,
        "distribution": sat.distribution,
    }


def report_summary(f: ReportFilters, *, now: datetime) -> dict[str, Any]:
    card = metrics.scorecard(f, now=now, tables=False)
    return {
        **_range(f),
        "metrics": [
            {
                "key": m.key,
                "label": m.label,
                "value": m.value,
                "unit": m.unit,
                "target": m.target,
                "comparison": m.comparison or None,
                "met": m.met,
                "available": m.available,
            }
            for m in card.metrics
        ],
    }
