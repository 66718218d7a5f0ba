"""The managers' reports page and its CSV exports: parse the filters, one selector call, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from accounts import permissions as roles
from accounts import selectors as account_selectors
from sofacover.errors import DomainError
from tickets.models import Ticket

from . import export, metrics
from .filters import ReportFilters, desk_zone, filters_from_params
from .permissions import can_view_reports


def managers_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous: log in. Customers: nothing here (404). Agents without reports.view_reports: 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.is_agent(request.user):
            raise Http404(gettext("Not found."))
        if not can_view_reports(request.user):
            raise PermissionDenied(gettext("Only managers may read the reports."))
        return view(request, *args, **kwargs)

    return guarded


def _drilldown_url(metric: metrics.Metric, f: ReportFilters) -> str | None:
    """The agent console's queue, filtered to the tickets behind a metric (filters the changelist supports)."""
    if not metric.drilldown:
        return None
    params = dict(metric.drilldown)
    if f.priority and "priority__in" not in params:
        params["priority__exact"] = f.priority
    for name in ("tier", "category", "channel"):
        if getattr(f, name) is not None:
            params[f"{name}__exact"] = str(getattr(f, name))
    if f.agent is not None:
        params["assignee"] = f.agent.username
    return reverse("admin:tickets_ticket_changelist") + "?" + urlencode(params)


def _chart_data(card: metrics.Scorecard) -> dict:
    trends = card.trends
    return {
        "weeks": [row["week"] for row in trends],
        "tickets": [row["tickets"] for row in trends],
        "resolved": [row["resolved"] for row in trends],
        "responded_within_target": [row["responded_within_target"] for row in trends],
        "resolved_within_target": [row["resolved_within_target"] for row in trends],
        "csat_average": [row["csat_average"] for row in trends],
        "first_contact_resolution_rate": [row["first_contact_resolution_rate"] for row in trends],
        "survey_response_rate": [row["survey_response_rate"] for row in trends],
        "targets": {
            "csat": metrics.CSAT_TARGET,
            "fcr": metrics.FCR_TARGET,
            "survey": metrics.SURVEY_RESPONSE_TARGET,
        },
    }


def _form_context(request: HttpRequest) -> dict:
    return {
        "params": request.GET,
        "priorities": Ticket.Priority.choices,
        "tiers": Ticket.Tier.choices,
        "categories": Ticket.Category.choices,
        "channels": Ticket.Channel.choices,
        "agents": account_selectors.agent_list(),
        "tables": list(export.TABLES),
        "time_zone": desk_zone().key,
    }


@require_GET
@managers_only
def index(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        f = filters_from_params(request.GET, today=now.astimezone(desk_zone()).date())
    except DomainError as exc:
        context = {**_form_context(request), "error": exc.message, "error_field": exc.field}
        return render(request, "reports/index.html", context, status=400)
    card = metrics.scorecard(f, now=now)
    rows = [(m, _drilldown_url(m, f) if m.met is False else None) for m in card.metrics]
    context = {
        **_form_context(request),
        "filters": f,
        "card": card,
        "metric_rows": rows,
        "chart_data": _chart_data(card),
        "query": urlencode(f.as_params()),
        "backlog_buckets": metrics.BACKLOG_BUCKETS,
        "now": now,
    }
    return render(request, "reports/index.html", context)


@require_GET
@managers_only
def csv_export(request: HttpRequest, table: str) -> HttpResponse:
    build = export.TABLES.get(table)
    if build is None:
        raise Http404(gettext("No such table."))
    now = timezone.now()
    try:
        f = filters_from_params(request.GET, today=now.astimezone(desk_zone()).date())
    except DomainError as exc:
        return HttpResponse(f"{exc.field}: {exc.message}\n", status=400, content_type="text/plain; charset=utf-8")
    card = metrics.scorecard(f, now=now, tables=table in ("offenders", "trends"))
    header, rows = build(card)
    response = HttpResponse(export.to_csv(header, rows), content_type="text/csv; charset=utf-8")
    filename = f"sofacover-{table}-{f.start.isoformat()}-to-{f.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
