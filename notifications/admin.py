"""Agent console pages for notifications: the outbox, dead letters, templates, alert routing, my notifications.

Managers edit routing, Slack channels, responders, webhooks and templates;
agents see only their own dashboard notifications. Secrets stay out of the
pages: webhook URLs are write-only fields (the list shows the host only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from tickets.admin import clipped, moment_cell
from tickets.models import Ticket

from . import messages as templates
from . import relay, selectors, services
from .models import (
    AlertRoute,
    CommunicationTemplate,
    DashboardItem,
    Notification,
    Responder,
    SlackChannel,
    WebhookEndpoint,
)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "") if url else "—"


class SecretUrlForm(forms.ModelForm):
    """The URL is write-only: the form never shows the stored one; empty keeps it unless "remove" is ticked."""

    url_field = "url"
    remove = forms.BooleanField(required=False, label=gettext_lazy("Remove the stored URL"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields[self.url_field]
        model_field = self._meta.model._meta.get_field(self.url_field)
        field.help_text = str(model_field.help_text)
        if self.instance.pk and getattr(self.instance, self.url_field):
            field.help_text = f"Stored (host {_host(getattr(self.instance, self.url_field))}). " + field.help_text

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        stored = getattr(self.instance, self.url_field) if self.instance.pk else ""
        if data.get("remove"):
            data[self.url_field] = ""
        elif not data.get(self.url_field) and stored:
            data[self.url_field] = stored
        return data


def _secret_url_field(label: Any) -> forms.URLField:
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 80})
    return forms.URLField(label=label, max_length=500, required=False, assume_scheme="https", widget=widget)


class SlackChannelForm(SecretUrlForm):
    url_field = "webhook_url"
    webhook_url = _secret_url_field(gettext_lazy("Incoming-webhook URL"))

    class Meta:
        model = SlackChannel
        fields = ["name", "purpose", "webhook_url"]


class WebhookEndpointForm(SecretUrlForm):
    url = _secret_url_field(gettext_lazy("URL"))

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "active"]


@admin.register(SlackChannel)
class SlackChannelAdmin(admin.ModelAdmin):
    form = SlackChannelForm
    list_display = ["name", "purpose", "configured", "webhook_host"]

    @admin.display(boolean=True)
    def configured(self, obj: SlackChannel) -> bool:
        return obj.configured

    @admin.display(description=gettext_lazy("webhook host"))
    def webhook_host(self, obj: SlackChannel) -> str:
        return _host(obj.webhook_url)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "active", "host"]

    @admin.display(description=gettext_lazy("host"))
    def host(self, obj: WebhookEndpoint) -> str:
        return _host(obj.url)


@admin.register(AlertRoute)
class AlertRouteAdmin(admin.ModelAdmin):
    list_display = ["priority", "phone", "sms", "slack", "email", "dashboard", "webhook", "slack_channel"]
    list_display += ["quiet_hours"]
    list_select_related = ["slack_channel"]


@admin.register(Responder)
class ResponderAdmin(admin.ModelAdmin):
    list_display = ["user", "phone_number", "on_call"]
    list_editable = ["on_call"]
    list_select_related = ["user"]
    search_fields = ["user__email", "phone_number"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            from django.contrib.auth.models import User

            kwargs["queryset"] = User.objects.filter(is_staff=True, is_active=True).order_by("email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "subject"]
    fields = ["key", "placeholders", "subject", "body_text", "body_html", "preview"]
    readonly_fields = ["placeholders", "preview"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "key"] if obj else self.readonly_fields

    @admin.display(description=gettext_lazy("placeholders you can use"))
    def placeholders(self, obj: CommunicationTemplate) -> str:
        names = sorted(templates.PLACEHOLDERS.get(obj.key, ())) if obj and obj.key else []
        return ", ".join(f"{{{{ {name} }}}}" for name in names) or gettext("Choose the template first.")

    @admin.display(description=gettext_lazy("preview (the latest ticket, or a sample)"))
    def preview(self, obj: CommunicationTemplate) -> str:
        if not obj or not obj.pk:
            return gettext("Save to see a preview.")
        try:
            rendered = templates.render(obj, _sample_context(obj.key))
        except Exception as exc:  # an invalid template shows why instead of a preview
            return gettext("Cannot render: %(error)s") % {"error": exc}
        return format_html(
            "<p><strong>Subject:</strong> {}</p><pre style='white-space:pre-wrap'>{}</pre>",
            rendered.subject,
            rendered.text,
        )


def _sample_context(key: str) -> dict[str, str]:
    now = timezone.now()
    ticket = Ticket.objects.select_related("requester", "assignee").order_by("-id").first()
    if ticket is not None:
        return templates.CONTEXTS[key](ticket, now=now)
    sample = dict.fromkeys(templates.PLACEHOLDERS[key], "…")
    sample.update(
        customer_name="Alice Example",
        ticket_reference="SCP-000042",
        service="order processing",
        functionality="order confirmation emails",
        status="Under investigation",
        expected_resolution=templates.when(now),
        next_update=templates.when(now),
        priority="P1",
        title="Order confirmation emails are delayed",
    )
    return sample


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    # Short cells, long values clipped with the whole value in a title, the filters above the table
    # (admin/console_change_list.html): the outbox fits a 1366 px screen.
    change_list_template = "admin/console_change_list.html"
    list_display = ["created", "channel", "kind", "recipient_cell", "subject_cell", "status", "attempts_cell"]
    list_display += ["error_cell"]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["recipient", "subject", "dedupe_key", "ticket__reference"]
    date_hierarchy = "created_at"
    list_select_related = ["ticket"]
    actions = ["retry"]
    exclude = ["claim", "payload"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Notification._meta.fields if field.name not in self.exclude]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: Notification) -> str:
        return moment_cell(obj.created_at)

    @admin.display(description=_("recipient"), ordering="recipient")
    def recipient_cell(self, obj: Notification) -> str:
        return clipped(obj.recipient)

    @admin.display(description=_("subject"), ordering="subject")
    def subject_cell(self, obj: Notification) -> str:
        return clipped(obj.subject)

    @admin.display(description=_("attempts"), ordering="attempts")
    def attempts_cell(self, obj: Notification) -> str:
        """The attempts so far and, while it waits, when the relay tries again."""
        if obj.next_attempt_at is None or obj.status != Notification.Status.PENDING:
            return str(obj.attempts)
        return format_html("{} · {}", obj.attempts, moment_cell(obj.next_attempt_at))

    @admin.display(description=_("last error"))
    def error_cell(self, obj: Notification) -> str:
        return clipped(obj.last_error) or "—"

    @admin.action(description=gettext_lazy("Retry the selected dead letters"), permissions=["change"])
    def retry(self, request, queryset) -> None:
        count = relay.outbox_retry(ids=queryset.values_list("pk", flat=True), now=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d notification queued again.", "%(count)d notifications queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(DashboardItem)
class DashboardItemAdmin(admin.ModelAdmin):
    """Every agent's own in-app notifications (and only theirs)."""

    list_display = ["created_at", "subject", "ticket_link", "unread"]
    list_display_links = None
    list_filter = ["kind"]
    list_select_related = ["ticket"]
    actions = ["mark_read"]

    def get_queryset(self, request):
        return selectors.dashboard_feed_for(user=request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    @admin.display(description=gettext_lazy("ticket"))
    def ticket_link(self, obj: Notification) -> str:
        if obj.ticket is None:
            return "—"
        url = reverse(f"{self.admin_site.name}:tickets_ticket_change", args=[obj.ticket_id])
        return format_html('<a href="{}">{}</a>', url, obj.ticket.reference)

    @admin.display(boolean=True, description=gettext_lazy("unread"))
    def unread(self, obj: Notification) -> bool:
        return obj.read_at is None

    @admin.action(description=gettext_lazy("Mark as read"), permissions=["change"])
    def mark_read(self, request, queryset) -> None:
        count = services.dashboard_mark_read(
            user=request.user, ids=queryset.values_list("pk", flat=True), now=timezone.now()
        )
        self.message_user(
            request,
            ngettext("%(count)d marked as read.", "%(count)d marked as read.", count) % {"count": count},
            messages.SUCCESS,
        )
