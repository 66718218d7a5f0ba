"""The console's incident forms: declare, post an update, actions, link and unlink tickets, resolve, edit.

Forms parse and check the shape of what was typed; the rules (a P0 needs its resolution
fields, a commander must be an agent, times in order) are the services', whose refusals
the admin puts back on the form (``refuse``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from sofacover.errors import DomainError
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

from . import services
from .models import SEVERITIES, Component, Incident

OPEN_STATUS_CHOICES = [(status.value, status.label) for status in Incident.OPEN_STATUSES]
REFERENCE = re.compile(r"^SCP-[0-9]{6,12}$")
SEPARATORS = re.compile(r"[\s,;]+")
# How many references one "link tickets" field takes (the queue's bulk action takes more).
MAX_LINKED_AT_ONCE = 500
# The model's PositiveIntegerField.
MAX_USERS = 2_147_483_647
DATETIME_INPUT = "%Y-%m-%dT%H:%M"
RESOLUTION_LABELS = {
    "what_happened": _("What happened"),
    "resolution": _("Resolution"),
    "prevention": _("Prevention"),
}


def refuse(form: forms.Form, exc: DomainError) -> None:
    """A service's refusal, on the field it names (or the whole form)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _text(label: Any = "", *, rows: int = 3, max_length: int = 5000, required: bool = False, **kwargs: Any):
    return forms.CharField(
        label=label or None,
        max_length=max_length,
        required=required,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 80}),
        **kwargs,
    )


def _moment(label: Any, help_text: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text=format_lazy(_("{help} In {zone} time."), help=help_text, zone=settings.TIME_ZONE),
    )


def commander_field(**kwargs: Any) -> forms.ModelChoiceField:
    """Agents and managers only: the choices shown come from the cached list of agents, the one
    submitted is checked against the database."""
    field = forms.ModelChoiceField(
        queryset=account_selectors.agent_list(),
        required=False,
        label=_("Commander"),
        help_text=_("The primary responder: an agent or a manager."),
        **kwargs,
    )
    agents = [
        (agent.pk, f"{agent.full_name} ({agent.username})" if agent.full_name else agent.username)
        for agent in account_selectors.agent_choice_list()
    ]
    field.choices = [("", "---------"), *agents]
    return field


class DeclareForm(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), choices=[("", "---------"), *SEVERITIES.choices])
    title = forms.CharField(label=_("Title"), max_length=200, help_text=_("Public: the status page shows it."))
    impact = _text(
        _("Impact"),
        max_length=2000,
        required=True,
        help_text=_("What is affected and how (internal: never on the status page)."),
    )
    users_affected = forms.IntegerField(
        label=_("Users affected"), min_value=0, max_value=MAX_USERS, required=False, help_text=_("An estimate.")
    )
    started_at = _moment(_("Started"), _("When the problem began; blank: now."))
    detected_at = _moment(_("Detected"), _("When the desk knew (MTTD = detected - started); blank: now."))
    war_room = forms.CharField(
        label=_("War room"), max_length=500, required=False, help_text=_("A link (https://…) or a place. Internal.")
    )
    actions = _text(
        _("Current actions"),
        rows=4,
        max_length=services.MAX_ACTIONS * 301,
        help_text=format_lazy(_("One per line: the checklist (at most {count})."), count=services.MAX_ACTIONS),
    )
    components = forms.ModelMultipleChoiceField(
        label=_("Components"),
        queryset=Component.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the status page marks as affected; new tickets in them are suggested for linking."),
    )
    public = forms.BooleanField(
        label=_("Public"),
        required=False,
        initial=True,
        help_text=_("Shown on the status page (title, status, components)."),
    )
    public_message = _text(
        _("First public update"), rows=2, help_text=format_lazy(_("Blank: “{text}”"), text=services.FIRST_PUBLIC_UPDATE)
    )
    functionality = forms.CharField(
        label=_("Affected functionality"),
        max_length=300,
        required=False,
        help_text=_("What the acknowledgment tells the customers of linked tickets is affected."),
    )
    expected_resolution = forms.CharField(
        label=_("Expected resolution"),
        max_length=200,
        required=False,
        help_text=_("For customers, e.g. “within 2 hours”."),
    )
    ticket = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["commander"] = commander_field()
        # The commander after the war room, as the declaration lists them.
        order = list(self.fields)
        order.remove("commander")
        order.insert(order.index("war_room"), "commander")
        self.order_fields(order)

    def clean_actions(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["actions"].splitlines() if line.strip()]

    def clean_ticket(self) -> Ticket | None:
        reference = self.cleaned_data["ticket"].strip().upper()
        if not reference:
            return None
        ticket = ticket_selectors.ticket_list_visible_to(user=self.user).filter(reference=reference).first()
        if ticket is None:
            raise forms.ValidationError(gettext("No ticket %(reference)s.") % {"reference": reference})
        return ticket


class UpdateForm(forms.Form):
    prefix = "update"

    status = forms.ChoiceField(label=_("Status"), choices=OPEN_STATUS_CHOICES)
    body = _text(_("Update"), rows=4, required=True)
    public = forms.BooleanField(
        label=_("Public update"),
        required=False,
        initial=True,
        help_text=_(
            "On the status page (when the incident is public) and restarts the update cadence; "
            "untick for an internal note."
        ),
    )


class ActionForm(forms.Form):
    prefix = "action"

    text = forms.CharField(label=_("New action"), max_length=300)


class TickForm(forms.Form):
    done = forms.TypedChoiceField(choices=[("1", _("done")), ("0", _("not done"))], coerce=lambda value: value == "1")


class LinkForm(forms.Form):
    prefix = "link"

    tickets = forms.CharField(
        label=_("Link tickets"),
        max_length=MAX_LINKED_AT_ONCE * 22,
        help_text=_("References, comma separated: SCP-000042, SCP-000043."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_tickets(self) -> list[Ticket]:
        references = list(dict.fromkeys(r.upper() for r in SEPARATORS.split(self.cleaned_data["tickets"]) if r))
        malformed = [r for r in references if not REFERENCE.match(r)]
        if malformed:
            raise forms.ValidationError(
                gettext("Not a ticket reference (like SCP-000042): %(refs)s."),
                params={"refs": ", ".join(malformed[:5])},
            )
        if len(references) > MAX_LINKED_AT_ONCE:
            raise forms.ValidationError(
                gettext("At most %(count)s tickets at once; the queue's bulk action takes more.")
                % {"count": MAX_LINKED_AT_ONCE}
            )
        found = {
            t.reference: t
            for t in ticket_selectors.ticket_list_visible_to(user=self.user).filter(reference__in=references)
        }
        unknown = [r for r in references if r not in found]
        if unknown:
            raise forms.ValidationError(gettext("No such ticket: %(refs)s."), params={"refs": ", ".join(unknown[:5])})
        return [found[r] for r in references]


class UnlinkForm(forms.Form):
    ticket = forms.CharField(max_length=20)


class ResolveForm(forms.Form):
    prefix = "resolve"

    what_happened = _text(_("What happened"), help_text=_("For the customers' resolution notification."))
    resolution = _text(_("Resolution"), help_text=_("How it was fixed; linked tickets resolve with it as their note."))
    prevention = _text(_("Prevention"), help_text=_("What stops it happening again."))
    public_message = _text(_("Public message"), rows=2, help_text=_("Blank: “This incident has been resolved.”"))

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {name: getattr(incident, name) for name in ("what_happened", "resolution", "prevention")},
        )
        super().__init__(*args, **kwargs)
        if incident.severity in (SEVERITIES.P0, SEVERITIES.P1):
            for name in ("what_happened", "resolution", "prevention"):
                self.fields[name].help_text = format_lazy(
                    "{} {}",
                    self.fields[name].help_text,
                    gettext("Required for a %(severity)s.") % {"severity": incident.severity},
                )


class EditForm(forms.Form):
    """The incident's fields (services.EDITABLE); its components from one read of them all."""

    prefix = "edit"

    title = forms.CharField(label=_("Title"), max_length=200)
    severity = forms.ChoiceField(label=_("Severity"), choices=SEVERITIES.choices)
    impact = _text(_("Impact"), max_length=2000, required=True)
    users_affected = forms.IntegerField(label=_("Users affected"), min_value=0, max_value=MAX_USERS, required=False)
    war_room = forms.CharField(label=_("War room"), max_length=500, required=False)
    public = forms.BooleanField(label=_("Public"), required=False)
    functionality = forms.CharField(label=_("Affected functionality"), max_length=300, required=False)
    expected_resolution = forms.CharField(label=_("Expected resolution"), max_length=200, required=False)
    components = forms.MultipleChoiceField(label=_("Components"), required=False, widget=forms.CheckboxSelectMultiple)

    RESOLUTION_FIELDS = ("what_happened", "resolution", "prevention")

    def __init__(self, *args: Any, incident: Incident, components: Sequence[Component], **kwargs: Any) -> None:
        self.incident = incident
        self.all_components = {str(component.pk): component for component in components}
        initial = {name: getattr(incident, name) for name in services.EDITABLE if name != "commander"}
        initial["commander"] = incident.commander_id
        initial["components"] = [str(c.pk) for c in components if getattr(c, "affected", False)]
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["commander"] = commander_field()
        components_field = self.fields["components"]
        assert isinstance(components_field, forms.MultipleChoiceField)
        components_field.choices = [(pk, c.name) for pk, c in self.all_components.items()]
        if not incident.is_open:
            # Resolved: the resolution notification's fields are corrected here.
            for name in self.RESOLUTION_FIELDS:
                self.fields[name] = _text(RESOLUTION_LABELS[name])

    def changes(self) -> dict[str, Any]:
        """What to hand to incident_edit: every field (the service keeps only what differs)."""
        data = dict(self.cleaned_data)
        data["components"] = [self.all_components[pk] for pk in data["components"]]
        return data
