"""The agent console's post-incident reviews: managers edit, agents read, customers never reach them.

The review page shows the incident's summary (MTTD, MTTR), the free document as its
sanitised rendering, the incident's timeline and the twelve action items. Managers
edit the document and each item (owner, due time, done, notes, knowledge-base
articles) through ``incidents.reviews``, so every change is on the incident's
timeline; agents see the same page read-only. Both export the review as markdown
and as PDF (the buttons at the top of the page).

Permissions are the roles, not model permissions: view for agents, change for
managers (and admins), add and delete for nobody (a review is opened by resolving
its incident, or by ``support.usecases.open_review``). The console itself keeps
customers out (staff only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, gettext_lazy

from accounts import permissions as roles
from accounts import selectors as account_selectors
from knowledge.rendering import mark_rendered
from sofacover.auth import signed_in_user
from tickets.downloads import SAFE_DOWNLOAD_HEADERS

from . import review_pdf, reviews
from .models import Review, ReviewItem


def _may_read(request: HttpRequest) -> bool:
    return roles.is_agent(request.user)


def _may_edit(request: HttpRequest) -> bool:
    return roles.is_manager(request.user)


class ReviewItemForm(forms.ModelForm):
    """An action item as a manager edits it: ``done`` is a tick; the service stamps the time."""

    done = forms.BooleanField(label=gettext_lazy("done"), required=False)

    class Meta:
        model = ReviewItem
        fields = ["owner", "due_at", "done", "notes", "articles"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2, "cols": 30})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["done"].initial = self.instance.done_at is not None

    def clean_due_at(self) -> datetime:
        due_at = self.cleaned_data["due_at"]
        resolved_at = self.instance.review.incident.resolved_at if self.instance.pk else None
        if due_at is not None and resolved_at is not None and due_at < resolved_at:
            raise forms.ValidationError(gettext("It cannot be due before the incident was resolved."))
        return due_at


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    form = ReviewItemForm
    fields = ["phase", "title", "owner", "due_at", "done", "done_at", "notes", "articles"]
    readonly_fields = ["phase", "title", "done_at"]
    # Article ids with the lookup popup: the autocomplete widget would read each item's articles again.
    raw_id_fields = ["articles"]
    extra = 0
    can_delete = False
    ordering = ["due_at", "position", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewItem]:
        return super().get_queryset(request).select_related("owner", "review__incident").prefetch_related("articles")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "owner":
            # The submitted owner is checked against the queryset; the choices shown come from the cache.
            kwargs["queryset"] = account_selectors.agent_list()
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            if isinstance(field, forms.ModelChoiceField):
                blank = [] if field.empty_label is None else [("", field.empty_label)]
                agents = [(a.pk, a.full_name or a.username) for a in account_selectors.agent_choice_list()]
                field.choices = [*blank, *agents]
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_read(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_edit(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["document"]
        widgets = {"document": forms.Textarea(attrs={"rows": 20, "cols": 100})}
        help_texts = {"document": gettext_lazy("Markdown. Shown sanitised, as knowledge-base articles are.")}


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewForm
    inlines = [ReviewItemInline]
    list_display = ["review", "severity", "opened_at", "progress", "overdue", "completed_at"]
    list_filter = ["incident__severity", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["incident__title"]
    date_hierarchy = "opened_at"
    fieldsets = (
        (None, {"fields": ("incident_link", "summary")}),
        (gettext_lazy("Review document"), {"fields": ("document", "rendered")}),
        (gettext_lazy("Timeline"), {"fields": ("timeline",)}),
    )
    readonly_fields = ["incident_link", "summary", "rendered", "timeline"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        now = timezone.now()
        return reviews.review_list().annotate(
            items_overdue=Count("items", filter=Q(items__done_at__isnull=True, items__due_at__lt=now))
        )

    # --- who may ---------------------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _may_read(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_read(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_edit(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- the list --------------------------------------------------------------

    @admin.display(description=gettext_lazy("review"), ordering="incident__title")
    def review(self, obj: Review) -> str:
        return f"{obj.incident.reference} {obj.incident.title}"

    @admin.display(description=gettext_lazy("severity"), ordering="incident__severity")
    def severity(self, obj: Review) -> str:
        return obj.incident.severity

    @admin.display(description=gettext_lazy("done"))
    def progress(self, obj: Review) -> str:
        return f"{getattr(obj, 'items_done', 0)} / {getattr(obj, 'items_total', 0)}"

    @admin.display(description=gettext_lazy("overdue"))
    def overdue(self, obj: Review) -> int:
        return getattr(obj, "items_overdue", 0)

    # --- the page --------------------------------------------------------------

    @admin.display(description=gettext_lazy("incident"))
    def incident_link(self, obj: Review) -> str:
        incident = obj.incident
        label = f"{incident.reference} [{incident.severity}] {incident.title}"
        try:
            url = reverse(f"{self.admin_site.name}:incidents_incident_change", args=[incident.pk])
        except NoReverseMatch:  # the incident pages are not registered: the label alone
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    def _summary(self, obj: Review) -> reviews.Summary:
        """The review's parts, read once per page (the summary and the timeline both show them)."""
        found = getattr(obj, "_console_summary", None)
        if found is None:
            found = reviews.review_summary(obj, now=timezone.now())
            obj._console_summary = found  # type: ignore[attr-defined]
        return found

    @admin.display(description=gettext_lazy("summary"))
    def summary(self, obj: Review) -> str:
        fields = self._summary(obj).fields
        return format_html(
            '<table class="review-summary">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", fields),
        )

    @admin.display(description=gettext_lazy("rendered (sanitised)"))
    def rendered(self, obj: Review) -> str:
        return mark_rendered(reviews.render_document(obj))

    @admin.display(description=gettext_lazy("the incident's events"))
    def timeline(self, obj: Review) -> str:
        events = self._summary(obj).timeline
        return format_html(
            '<ol class="review-timeline">{}</ol>',
            format_html_join("", "<li><strong>{}</strong> {}<br>{}</li>", events),
        )

    # --- saving through incidents.reviews ------------------------------------------

    def save_model(self, request: HttpRequest, obj: Review, form: forms.ModelForm, change: bool) -> None:
        if "document" in form.changed_data:
            saved = reviews.document_edit(
                review=obj, document=form.cleaned_data["document"], by=signed_in_user(request), now=timezone.now()
            )
            obj.document = saved.document

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        by, now = signed_in_user(request), timezone.now()
        for formset in formsets:
            # What formset.save() would have recorded, for the admin's change message.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for item_form in formset.forms:
                changed = [name for name in item_form.changed_data if name in reviews.EDITABLE]
                if changed:
                    item = reviews.item_update(
                        item=item_form.instance,
                        by=by,
                        now=now,
                        **{name: item_form.cleaned_data[name] for name in changed},
                    )
                    formset.changed_objects.append((item, changed))

    # --- exports ---------------------------------------------------------------

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/export.md", wrap(self.export_markdown), name=f"{prefix}_export_md"),
            path("<path:object_id>/export.pdf", wrap(self.export_pdf), name=f"{prefix}_export_pdf"),
            *super().get_urls(),
        ]

    def _readable(self, request: HttpRequest, object_id: str) -> Review:
        if not self.has_view_permission(request):
            raise PermissionDenied
        review = self.get_object(request, unquote(object_id))
        if review is None:
            raise Http404(gettext("No such review."))
        return review

    def _download(self, content: bytes | str, *, content_type: str, filename: str) -> HttpResponse:
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        for header, value in SAFE_DOWNLOAD_HEADERS.items():
            response[header] = value
        return response

    def export_markdown(self, request: HttpRequest, object_id: str) -> HttpResponse:
        review = self._readable(request, object_id)
        text = reviews.review_markdown(review, now=timezone.now())
        return self._download(
            text, content_type="text/markdown; charset=utf-8", filename=f"{review.incident.reference}-review.md"
        )

    def export_pdf(self, request: HttpRequest, object_id: str) -> HttpResponse:
        review = self._readable(request, object_id)
        pdf = review_pdf.review_pdf(review, now=timezone.now())
        return self._download(pdf, content_type="application/pdf", filename=f"{review.incident.reference}-review.pdf")
