"""What the status page's templates format many times per rendering, done in plain Python.

The page shows up to 90 bars per component and every update of two weeks of incidents;
Django's ``date`` filter costs tens of microseconds a call, these a few.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from incidents.status import desk_zone

register = template.Library()


@register.filter
def when(moment: datetime | None) -> str:
    """``8 Dec 2026, 15:00 GMT`` in the desk's time zone."""
    if moment is None:
        return ""
    local = moment.astimezone(desk_zone())
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


@register.filter
def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _percent(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@register.filter
def percent(value: float) -> str:
    """99.5 → ``99.5``, 100.0 → ``100``: at most the two decimals the snapshot keeps."""
    return _percent(value)


@register.simple_tag
def uptime_bars(component: dict[str, Any]) -> SafeString:
    """The component's bars (one per day, coloured by state, its uptime in the title) and, for screen
    readers instead of 90 bars, one sentence with the days that were not operational."""
    bars, bad = [], []
    for day in component["days"]:
        source = day.get("uptime_source", "incidents")
        text = f"{_day(day['date'])}: {day['state_label']}, {_percent(day['uptime_percent'])} % uptime"
        text += f" ({_('from checks') if source == 'checks' else _('from incidents')})"
        bars.append(
            f'<li class="bar state-{escape(day["state"])}" data-uptime-source="{escape(source)}"'
            f' title="{escape(text)}"></li>'
        )
        if day["state"] != "operational":
            bad.append(text)
    summary = (
        f"{component['name']}, {_percent(component['uptime_percent'])} % uptime over the last "
        f"{len(component['days'])} days." + ("".join(f" {text}." for text in bad) if bad else " No problems.")
    )
    return mark_safe(  # every piece escaped above and here
        f'<ol class="uptime-bars" aria-hidden="true">{"".join(bars)}</ol>'
        f'<p class="visually-hidden">{escape(summary)}</p>'
    )
