"""The console's "file a ticket for a caller" page (agents): one form, one use case (support.usecases.take_call)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from sofacover.errors import DomainError
from tickets.models import Ticket

from . import usecases


class PhoneTicketForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Caller's email"), required=False, max_length=150)
    phone = forms.CharField(
        label=gettext_lazy("Caller's phone"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("International format, e.g. +447700900123. Found by email first, then by this number."),
    )
    name = forms.CharField(label=gettext_lazy("Caller's name"), required=False, max_length=150)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        widget=forms.Textarea,
        max_length=20000,
        help_text=gettext_lazy("What the caller said."),
    )
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"), choices=Ticket.Priority.choices, initial=Ticket.Priority.P2
    )
    category = forms.ChoiceField(
        label=gettext_lazy("Category"), choices=Ticket.Category.choices, initial=Ticket.Category.OTHER
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors:
            raise forms.ValidationError(gettext("Give the caller's email or phone number."))
        return cleaned


def phone_ticket_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: find or create the caller, file the ticket, go to its page."""
    if not request.user.has_perm("tickets.work_ticket"):
        raise PermissionDenied
    form = PhoneTicketForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = usecases.take_call(
                agent=request.user,  # type: ignore[arg-type]
                email=data["email"],
                phone=data["phone"],
                name=data["name"],
                subject=data["subject"],
                description=data["description"],
                priority=data["priority"],
                category=data["category"],
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                gettext("%(reference)s filed for %(requester)s.")
                % {"reference": ticket.reference, "requester": ticket.requester.username},
            )
            site = model_admin.admin_site.name
            return HttpResponseRedirect(reverse(f"{site}:tickets_ticket_change", args=[ticket.pk], current_app=site))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": gettext("File a ticket for a caller"),
        "form": form,
    }
    return TemplateResponse(request, "support/phone_ticket.html", context, status=400 if form.errors else 200)
