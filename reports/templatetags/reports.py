"""Formatting of metric values for the reports page and the weekly email."""

from __future__ import annotations

from django import template

from reports.metrics import Metric

register = template.Library()


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def format_value(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        return _duration(value)
    if unit == "score":
        return f"{value:.2f}"
    return str(value)


@register.filter
def metric_value(metric: Metric) -> str:
    if not metric.available:
        return "not available"
    return format_value(metric.value, metric.unit)


@register.filter
def metric_target(metric: Metric) -> str:
    if metric.target is None:
        return "—"
    return f"{metric.comparison} {format_value(metric.target, metric.unit)}".replace(">=", "≥")


@register.filter
def share(value) -> str:
    return format_value(value, "share")


@register.filter
def duration(value) -> str:
    return format_value(value, "seconds")
