"""The console's doors to merging and splitting tickets (support.usecases.merge_tickets, split_message).

- the ticket page's "Merge…" form (``/admin/tickets/ticket/<id>/merge/``): the survivor by reference;
- the queue's "Merge into…" action: the survivor picked among the selected tickets;
- a message's "Split" form (``/admin/tickets/ticket/<id>/split/<message_id>/``): the new ticket's subject;
- a reply posted on a ticket merged meanwhile: refused, shown again with the survivor to post it on.

Each form calls one use case through ``modeladmin.usecases``; a refusal is a form error (400), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from sofacover.errors import DomainError

from . import permissions, selectors
from .filters import TICKET_NUMBER
from .models import Message, Ticket

TICKETS_NAMED = 10


def _ticket_url(modeladmin: Any, ticket: Ticket, name: str = "change") -> str:
    site = modeladmin.admin_site.name
    return reverse(f"{site}:tickets_ticket_{name}", args=[ticket.pk], current_app=site)


def _refused(form: forms.Form, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _page(modeladmin: Any, request: HttpRequest, template: str, title: str, status: int = 200, **context: Any):
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.model._meta,
            "title": title,
            **context,
        },
        status=status,
    )


def _form_page(
    modeladmin: Any,
    request: HttpRequest,
    form: forms.Form,
    act: Callable[[dict[str, Any]], tuple[Ticket, str]],
    template: str,
    title: str,
    **context: Any,
) -> HttpResponse:
    """A ticket page's form run to one use case: GET shows it; a valid POST calls ``act`` with the cleaned data,
    which returns the ticket to go to and what to say; a refusal (DomainError) or invalid data is the form
    again with its errors (400)."""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                ticket, done = act(form.cleaned_data)
            except DomainError as exc:
                _refused(form, exc)
            else:
                modeladmin.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(_ticket_url(modeladmin, ticket))
        status = 400
    return _page(modeladmin, request, template, title, status=status, form=form, **context)


def _worked_ticket(modeladmin: Any, request: HttpRequest, object_id: str) -> Ticket:
    """The ticket a merge or split form is about: 403 without the work permission, 404 for none."""
    if not modeladmin.has_work_permission(request):
        raise PermissionDenied
    ticket = modeladmin.get_object(request, unquote(object_id))
    if ticket is None:
        raise Http404(gettext("No such ticket."))
    return ticket


# --- merge -----------------------------------------------------------------------------------------


class MergeForm(forms.Form):
    target = forms.CharField(
        label=_("Merge into"),
        max_length=20,
        help_text=_("The ticket that stays, by reference (SCP-000042) or number."),
    )
    confirm = forms.BooleanField(
        required=False,
        label=_("The tickets belong to different customers: merge anyway"),
        help_text=_("The other customer is copied on the surviving ticket's replies."),
    )

    def clean_target(self) -> Ticket:
        value = self.cleaned_data["target"].strip().upper()
        if value.startswith("SCP-"):
            ticket = Ticket.objects.filter(reference=value).first()
        elif TICKET_NUMBER.fullmatch(value):
            ticket = Ticket.objects.filter(pk=int(value)).first()
        else:
            raise forms.ValidationError(gettext("Enter a ticket reference, like SCP-000042."))
        if ticket is None:
            raise forms.ValidationError(gettext("No ticket %(reference)s.") % {"reference": value})
        return ticket


def merge_view(modeladmin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """Merge this ticket (the duplicate) into another: GET the form, POST it (400 with the reasons)."""
    source = _worked_ticket(modeladmin, request, object_id)
    form = MergeForm(request.POST if request.method == "POST" else None)

    def merge(data: dict[str, Any]) -> tuple[Ticket, str]:
        survivor = modeladmin.usecases.merge_tickets(
            source=source,
            target=data["target"],
            actor=request.user,
            now=timezone.now(),
            other_customer_confirmed=data["confirm"],
        )
        return survivor, gettext("%(source)s is merged into %(target)s.") % {
            "source": source.reference,
            "target": survivor.reference,
        }

    return _form_page(
        modeladmin,
        request,
        form,
        merge,
        "admin/tickets/ticket/merge.html",
        gettext("Merge %(reference)s into another ticket") % {"reference": source.reference},
        ticket=source,
        back=_ticket_url(modeladmin, source),
    )


class MergeSelectedForm(forms.Form):
    survivor = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label=_("The ticket that stays"))
    confirm = forms.BooleanField(required=False, label=MergeForm.base_fields["confirm"].label)

    def __init__(self, *args: Any, tickets: list[Ticket], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        survivor = self.fields["survivor"]
        assert isinstance(survivor, forms.TypedChoiceField)
        survivor.choices = [(t.pk, f"{t.reference} · {t.subject} · {t.requester.username}") for t in tickets]


def merge_selected(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Ticket]) -> TemplateResponse | None:
    """The queue's "Merge into…": pick the survivor among the selection; each other ticket merges into it."""
    tickets = list(queryset.select_related("requester").order_by("pk")[: TICKETS_NAMED * 5])
    if len(tickets) < 2:
        modeladmin.message_user(request, gettext("Select at least two tickets to merge."), messages.WARNING)
        return None
    form = MergeSelectedForm(request.POST if "apply" in request.POST else None, tickets=tickets)
    status = 200
    if "apply" in request.POST:
        if form.is_valid():
            survivor = next(t for t in tickets if t.pk == form.cleaned_data["survivor"])
            merged, refused = [], []
            for source in tickets:
                if source.pk == survivor.pk:
                    continue
                try:
                    modeladmin.usecases.merge_tickets(
                        source=source,
                        target=survivor,
                        actor=request.user,
                        now=timezone.now(),
                        other_customer_confirmed=form.cleaned_data["confirm"],
                    )
                except DomainError as exc:
                    refused.append(f"{source.reference}: {exc.message}")
                else:
                    merged.append(source.reference)
            if merged:
                modeladmin.message_user(
                    request,
                    ngettext("Merged %(tickets)s into %(target)s.", "Merged %(tickets)s into %(target)s.", len(merged))
                    % {"tickets": ", ".join(merged), "target": survivor.reference},
                    messages.SUCCESS,
                )
            for refusal in refused:
                modeladmin.message_user(
                    request, gettext("Refused %(refusal)s") % {"refusal": refusal}, messages.WARNING
                )
            return None
        status = 400
    return _page(
        modeladmin,
        request,
        "admin/tickets/ticket/merge_selected.html",
        gettext("Merge tickets"),
        status=status,
        form=form,
        tickets=tickets,
        different=len({t.requester_id for t in tickets}) > 1,
        selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        select_across=request.POST.get("select_across", "0"),
        action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
    )


# --- split -----------------------------------------------------------------------------------------


class SplitForm(forms.Form):
    subject = forms.CharField(label=_("Subject of the new ticket"), max_length=200)


def split_view(modeladmin: Any, request: HttpRequest, object_id: str, message_id: str) -> HttpResponse:
    """Split one message of this ticket off into a new ticket of the same customer."""
    ticket = _worked_ticket(modeladmin, request, object_id)
    message = Message.objects.filter(pk=int(message_id) if message_id.isdigit() else 0, ticket=ticket).first()
    if message is None:
        raise Http404(gettext("No such message on this ticket."))
    form = SplitForm(request.POST if request.method == "POST" else None, initial={"subject": ticket.subject})

    def split(data: dict[str, Any]) -> tuple[Ticket, str]:
        new = modeladmin.usecases.split_message(
            message=message, actor=request.user, now=timezone.now(), subject=data["subject"]
        )
        return new, gettext("The message is now %(new)s, split from %(old)s.") % {
            "new": new.reference,
            "old": ticket.reference,
        }

    return _form_page(
        modeladmin,
        request,
        form,
        split,
        "admin/tickets/ticket/split.html",
        gettext("Split a message off %(reference)s") % {"reference": ticket.reference},
        ticket=ticket,
        message=message,
        back=_ticket_url(modeladmin, ticket),
    )


# --- a reply on a ticket merged meanwhile -----------------------------------------------------------


def reply_moved(modeladmin: Any, request: HttpRequest, ticket: Ticket, body: str, internal: bool) -> HttpResponse:
    """The reply was refused (409): the ticket was merged while the agent wrote. Nothing is lost: the page
    shows the survivor and the reply again, ready to post there."""
    survivor = selectors.merged_survivor(ticket=ticket)
    can_post = survivor is not None and permissions.can_change_ticket(request.user, survivor)
    return _page(
        modeladmin,
        request,
        "admin/tickets/ticket/reply_moved.html",
        gettext("%(reference)s was merged") % {"reference": ticket.reference},
        status=409,
        ticket=ticket,
        survivor=survivor,
        can_post=can_post,
        body=body,
        internal=internal,
        post_url=_ticket_url(modeladmin, survivor, "reply") if survivor else None,
        survivor_url=_ticket_url(modeladmin, survivor) if survivor else None,
    )
