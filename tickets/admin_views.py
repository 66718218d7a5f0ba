"""The console's doors to saved views of the queue (tickets/saved_views.py): save the queue as it is,
list, rename and delete one's own (another agent's private view is a 404)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import permissions as roles
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError

from . import saved_views
from .models import SavedView


class SaveViewForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    shared = forms.BooleanField(required=False, label=_("Share with the team"))


class RenameForm(forms.Form):
    name = forms.CharField(label=_("New name"), max_length=80)


def _queue(modeladmin: Any, query: str = "") -> str:
    site = modeladmin.admin_site.name
    url = reverse(f"{site}:tickets_ticket_changelist", current_app=site)
    return f"{url}?{query}" if query else url


def _manage(modeladmin: Any) -> str:
    site = modeladmin.admin_site.name
    return reverse(f"{site}:tickets_ticket_views", current_app=site)


def _agent(modeladmin: Any, request: HttpRequest) -> None:
    if not modeladmin.has_work_permission(request):
        raise PermissionDenied


def save_view(modeladmin: Any, request: HttpRequest) -> HttpResponse:
    _agent(modeladmin, request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = SaveViewForm(request.POST)
    query = request.POST.get("query", "")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                modeladmin.message_user(request, error, messages.ERROR)
        return HttpResponseRedirect(_queue(modeladmin, saved_views.clean_query(query)))
    try:
        view = saved_views.view_save(
            owner=signed_in_user(request),
            name=form.cleaned_data["name"],
            query=form.cleaned_data["query"],
            shared=form.cleaned_data["shared"],
            now=timezone.now(),
        )
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(_queue(modeladmin, saved_views.clean_query(query)))
    modeladmin.message_user(request, gettext("Saved the view “%(name)s”.") % {"name": view.name}, messages.SUCCESS)
    return HttpResponseRedirect(_queue(modeladmin, view.query))


def manage_views(modeladmin: Any, request: HttpRequest) -> HttpResponse:
    _agent(modeladmin, request)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": gettext("Saved views"),
        "views": SavedView.objects.filter(owner=signed_in_user(request)).order_by("name", "id"),
        "shared": SavedView.objects.filter(shared=True).exclude(owner=signed_in_user(request)).select_related("owner"),
        "queue_url": _queue(modeladmin),
        "is_manager": roles.is_manager(request.user),
    }
    return TemplateResponse(request, "admin/tickets/ticket/saved_views.html", context)


def rename_view(modeladmin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    _agent(modeladmin, request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    view = saved_views.own_view(user=signed_in_user(request), pk=pk)
    form = RenameForm(request.POST)
    try:
        if not form.is_valid():
            raise saved_views.SavedViewRefused(gettext("Name the view."), field="name")
        saved_views.view_rename(view=view, name=form.cleaned_data["name"], now=timezone.now())
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
    else:
        modeladmin.message_user(request, gettext("Renamed to “%(name)s”.") % {"name": view.name}, messages.SUCCESS)
    return HttpResponseRedirect(_manage(modeladmin))


def delete_view(modeladmin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    _agent(modeladmin, request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    view = saved_views.own_view(user=signed_in_user(request), pk=pk)
    name = view.name
    saved_views.view_delete(view=view)
    modeladmin.message_user(request, gettext("Deleted the view “%(name)s”.") % {"name": name}, messages.SUCCESS)
    return HttpResponseRedirect(_manage(modeladmin))
