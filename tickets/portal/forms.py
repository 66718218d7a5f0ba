"""Portal forms for tickets: they parse and validate input; the services decide what happens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket
from tickets.uploads import CheckedUpload, allowed_extensions, check_uploads

# Plain-language help for customers choosing a priority (from the procedures document).
PRIORITY_HELP: dict[str, str | Promise] = {
    Ticket.Priority.P0: _("The shop is down, data is lost, payments fail or you suspect a security breach."),
    Ticket.Priority.P1: _(
        "A major feature is broken, pages are much slower than usual, you cannot sign in, "
        "or orders are not being processed."
    ),
    Ticket.Priority.P2: _("A minor feature misbehaves, something looks wrong, or an integration is unreliable."),
    Ticket.Priority.P3: _("An idea, a question about the documentation, or a cosmetic detail."),
}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; cleans to a (possibly empty) list of uploads."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [cleaned for cleaned in (single_clean(item, initial) for item in files if item) if cleaned]


def _attachments_field() -> MultipleFileField:
    return MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=format_lazy(
            _("Optional. Up to {count} files, {size} each. Allowed: {extensions}."),
            count=settings.ATTACHMENT_MAX_FILES,
            size=filesizeformat(settings.ATTACHMENT_MAX_BYTES),
            extensions=allowed_extensions(),
        ),
    )


class AttachmentsMixin:
    """Checks uploads by content with tickets.uploads: refusals become field errors."""

    cleaned_data: dict[str, Any]  # (a mixin of forms.Form)

    def clean_attachments(self) -> list[CheckedUpload]:
        return check_uploads(self.cleaned_data.get("attachments") or [])


class TicketForm(AttachmentsMixin, forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200, help_text=_("A short summary of the problem."))
    description = forms.CharField(
        label=_("Description"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What happened, what you expected, and any order number or page address."),
    )
    priority = forms.ChoiceField(
        label=_("How urgent is it?"),
        choices=[
            (value, format_lazy("{} — {}", label, PRIORITY_HELP[value])) for value, label in Ticket.Priority.choices
        ],
        initial=Ticket.Priority.P2,
        widget=forms.RadioSelect,
    )
    category = forms.ChoiceField(label=_("Category"), choices=Ticket.Category.choices, initial=Ticket.Category.OTHER)
    attachments = _attachments_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"] = _attachments_field()  # limits read from settings per request


class ReplyForm(AttachmentsMixin, forms.Form):
    body = forms.CharField(
        label=_("Your reply"), required=False, max_length=50000, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = _attachments_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"] = _attachments_field()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.errors and not (cleaned.get("body") or "").strip() and not cleaned.get("attachments"):
            raise ValidationError(_("Write a message or attach a file."), code="empty")
        return cleaned


def _any(choices) -> list[tuple[str, str]]:
    return [("", _("Any")), *choices]


class PortalTicketFilterForm(forms.Form):
    """The filters above "My tickets": each optional; a value that is not a choice is a field error (400)."""

    status = forms.ChoiceField(label=_("Status"), choices=_any(Ticket.Status.choices), required=False)
    priority = forms.ChoiceField(label=_("Priority"), choices=_any(Ticket.Priority.choices), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=_any(Ticket.Channel.choices), required=False)
    q = forms.CharField(label=_("Search"), max_length=200, required=False, strip=True)

    def clean_q(self) -> str:
        value = self.cleaned_data["q"]
        if "\x00" in value:
            raise ValidationError(_("Null characters are not allowed."))
        return value
