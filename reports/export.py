"""The reports' tables as rows, for CSV. Every cell is neutralised against formula injection (IN-6)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .metrics import Scorecard

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will show as text: a leading =, +, -, @, tab or CR gets a single quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


Table = tuple[list[str], list[list[Any]]]


def _scorecard(s: Scorecard) -> Table:
    header = ["metric", "label", "value", "unit", "comparison", "target", "met", "available"]
    rows = [[m.key, m.label, m.value, m.unit, m.comparison, m.target, m.met, m.available] for m in s.metrics]
    return header, rows


def _sla(s: Scorecard) -> Table:
    header = [
        "priority",
        "tickets_created",
        "response_measured",
        "responded_within_target",
        "response_target_share",
        "response_breaches",
        "tickets_resolved",
        "resolved_within_target",
        "resolution_target_share",
        "resolution_breaches",
        "median_first_response_seconds",
        "p90_first_response_seconds",
        "median_resolution_seconds",
        "p90_resolution_seconds",
    ]
    rows = [
        [
            r.priority,
            r.tickets,
            r.response_measured,
            r.responded_within_target,
            r.response_target_share,
            r.response_breaches,
            r.resolved,
            r.resolved_within_target,
            r.resolution_target_share,
            r.resolution_breaches,
            r.median_first_response_seconds,
            r.p90_first_response_seconds,
            r.median_resolution_seconds,
            r.p90_resolution_seconds,
        ]
        for r in s.priorities
    ]
    return header, rows


def _satisfaction(s: Scorecard) -> Table:
    sat = s.satisfaction
    header = ["score", "ratings"]
    return header, [[score, n] for score, n in sat.distribution.items()]


def _backlog(s: Scorecard) -> Table:
    header = list(s.backlog[0].keys()) if s.backlog else ["priority", "total"]
    return header, [[row[k] for k in header] for row in s.backlog]


def _escalations(s: Scorecard) -> Table:
    header = ["reason", "rule", "escalations", "to_management"]
    return header, [[r["reason"], r["rule"], r["escalations"], r["to_management"]] for r in s.escalations]


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _offenders(s: Scorecard) -> Table:
    header = [
        "kind",
        "reference",
        "subject",
        "priority",
        "tier",
        "status",
        "assignee",
        "due_at",
        "done_at",
        "late_seconds",
    ]
    rows = [
        [
            r["kind"],
            r["reference"],
            r["subject"],
            r["priority"],
            r["tier"],
            r["status"],
            r["assignee"],
            _iso(r["due_at"]),
            _iso(r["done_at"]),
            r["late_seconds"],
        ]
        for r in s.offenders
    ]
    return header, rows


def _trends(s: Scorecard) -> Table:
    header = list(s.trends[0].keys()) if s.trends else ["week"]
    return header, [[row[k] for k in header] for row in s.trends]


TABLES: dict[str, Callable[[Scorecard], Table]] = {
    "scorecard": _scorecard,
    "sla": _sla,
    "satisfaction": _satisfaction,
    "backlog": _backlog,
    "escalations": _escalations,
    "offenders": _offenders,
    "trends": _trends,
}


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
