"""The knowledge base in the agent console: articles with revisions, tags, response templates.

Every save goes through the services (rendering, search index and revision in
one transaction); domain refusals become form errors or admin messages.
Revisions are read-only: their page shows the diff against the revision before
(escaped), and the "Restore this revision" action makes one current again.
"""

from __future__ import annotations

import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, gettext_lazy

from sofacover.auth import signed_in_user
from sofacover.errors import DomainError

from . import permissions, services
from .models import Article, ArticleRevision, ArticleVote, ResponseTemplate, SuggestionOpen, Tag
from .rendering import mark_rendered

ARTICLE_FIELDS = ("title", "slug", "body", "audience", "category", "status")


def _tag_list(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


class ArticleAdminForm(forms.ModelForm):
    tag_names = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy("Comma-separated, e.g. returns, refund."),
    )
    slug = forms.SlugField(
        max_length=200, required=False, help_text=gettext_lazy("Made from the title when left empty.")
    )

    class Meta:
        model = Article
        fields = ARTICLE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tag_names"].initial = ", ".join(tag.name for tag in self.instance.tags.all())

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        values = {field: data[field] for field in ARTICLE_FIELDS if field in data and data[field] not in (None, "")}
        values["tags"] = _tag_list(data.get("tag_names", ""))
        try:
            services.article_check(article=self.instance if self.instance.pk else None, **values)
        except DomainError as exc:
            raise ValidationError({exc.field: exc.message} if exc.field in self.fields else exc.message) from exc
        return data

    def _post_clean(self) -> None:
        # The services validate (above) and write; skip ModelForm's instance validation
        # (slug uniqueness is the service's, and body_html/search columns are not the form's).
        pass


class RevisionInline(admin.TabularInline):
    model = ArticleRevision
    fields = ("revision_link", "created_by", "created_at", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-number",)

    @admin.display(description=gettext_lazy("Revision"))
    def revision_link(self, obj: ArticleRevision) -> str:
        url = reverse("admin:knowledge_articlerevision_change", args=[obj.pk])
        return format_html('<a href="{}">Revision {} (diff)</a>', url, obj.number)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = ("title", "audience", "category", "status", "updated_at", "helpful_yes", "helpful_no")
    list_filter = ("audience", "status", "category", "tags")
    search_fields = ("title", "slug")
    ordering = ("title",)
    readonly_fields = ("rendered", "author", "created_at", "updated_at", "published_at", "helpful_yes", "helpful_no")
    inlines = [RevisionInline]
    list_select_related = ("author",)
    fieldsets = (
        (None, {"fields": ("title", "slug", "audience", "category", "status", "tag_names", "body")}),
        (gettext_lazy("Preview (sanitised rendering)"), {"fields": ("rendered",)}),
        (
            gettext_lazy("History"),
            {"fields": ("author", "created_at", "updated_at", "published_at", "helpful_yes", "helpful_no")},
        ),
    )

    @admin.display(description=gettext_lazy("Rendered"))
    def rendered(self, obj: Article) -> str:
        return mark_rendered(obj.body_html) if obj.pk else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Article | None = None) -> bool:
        # Archive instead; only admins delete for good.
        return request.user.is_superuser

    def save_model(self, request: HttpRequest, obj: Article, form: ArticleAdminForm, change: bool) -> None:
        data = form.cleaned_data
        values = {field: data[field] for field in ARTICLE_FIELDS if field in data}
        values["tags"] = _tag_list(data.get("tag_names", ""))
        now = timezone.now()
        if change:
            article = services.article_update(article=obj, actor=signed_in_user(request), now=now, **values)
        else:
            article = services.article_create(actor=signed_in_user(request), now=now, **values)
        # The admin goes on with ``obj`` (messages, redirect, log entry): make it the saved article.
        obj.__dict__.update({k: v for k, v in article.__dict__.items() if k != "_state"})
        obj._state.adding, obj._state.db = False, article._state.db

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        services.article_delete(article=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            services.article_delete(article=article)


def unified_diff(before: ArticleRevision | None, after: ArticleRevision) -> str:
    def lines(revision: ArticleRevision | None) -> list[str]:
        if revision is None:
            return []
        header = [
            f"title: {revision.title}",
            f"audience: {revision.audience}",
            f"category: {revision.category}",
            f"status: {revision.status}",
            f"tags: {', '.join(revision.tags)}",
            "",
        ]
        return header + revision.body.splitlines()

    return "\n".join(
        difflib.unified_diff(
            lines(before),
            lines(after),
            fromfile=f"revision {before.number}" if before else "(nothing)",
            tofile=f"revision {after.number}",
            lineterm="",
        )
    )


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(admin.ModelAdmin):
    list_display = ("article", "number", "created_by", "created_at", "note")
    list_filter = ("article",)
    list_select_related = ("article", "created_by")
    search_fields = ("article__title",)
    ordering = ("article", "-number")
    fields = ("article", "number", "created_by", "created_at", "note", "diff", "title", "audience", "category")
    readonly_fields = fields
    actions = ["restore_revision"]

    @admin.display(description=gettext_lazy("Changes from the revision before"))
    def diff(self, obj: ArticleRevision) -> str:
        before = obj.article.revisions.filter(number__lt=obj.number).order_by("-number").first()
        text = unified_diff(before, obj) or "(no changes)"
        rows = format_html_join(
            "\n",
            '<span class="{}">{}</span>',
            (
                (
                    "diff-add" if line.startswith("+") else "diff-del" if line.startswith("-") else "diff-ctx",
                    line,
                )
                for line in text.splitlines()
            ),
        )
        return format_html('<pre class="knowledge-diff">{}</pre>', rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_restore_permission(self, request: HttpRequest) -> bool:
        return permissions.can_change_article(request.user)

    @admin.action(description=gettext_lazy("Restore this revision"), permissions=["restore"])
    def restore_revision(self, request: HttpRequest, queryset: QuerySet[ArticleRevision]) -> None:
        revisions = list(queryset.select_related("article")[:2])
        if len(revisions) != 1:
            self.message_user(request, gettext("Choose exactly one revision to restore."), messages.ERROR)
            return
        revision = revisions[0]
        try:
            article = services.article_restore(revision=revision, actor=signed_in_user(request), now=timezone.now())
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            gettext("Restored revision %(number)s of “%(title)s” as a new revision.")
            % {"number": revision.number, "title": article.title},
            messages.SUCCESS,
        )


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "category", "active", "updated_at")
    list_filter = ("active", "category")
    search_fields = ("name", "slug", "body")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "category", "active", "body", "placeholders")
    readonly_fields = ("placeholders",)

    @admin.display(description=gettext_lazy("Placeholders you can use"))
    def placeholders(self, obj: ResponseTemplate | None) -> str:
        from .templating import PLACEHOLDERS

        return format_html_join(", ", "<code>{{{{ {} }}}}</code>", ((name,) for name in sorted(PLACEHOLDERS)))

    def save_model(self, request: HttpRequest, obj: ResponseTemplate, form, change: bool) -> None:
        saved = services.response_template_save(
            template=obj if change else None,
            actor=signed_in_user(request),
            now=timezone.now(),
            slug=obj.slug,
            name=obj.name,
            body=obj.body,
            category=obj.category,
            active=obj.active,
        )
        obj.pk, obj._state.adding = saved.pk, False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ArticleVote)
class ArticleVoteAdmin(ReadOnlyAdmin):
    list_display = ("article", "helpful", "comment", "updated_at")
    list_filter = ("helpful",)
    list_select_related = ("article",)
    search_fields = ("article__title", "comment")
    fields = ("article", "helpful", "comment", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(SuggestionOpen)
class SuggestionOpenAdmin(ReadOnlyAdmin):
    list_display = ("article", "query", "opened_at", "ticket", "ticket_filed_at")
    list_select_related = ("article", "ticket")
    search_fields = ("query", "article__title")
    fields = ("article", "query", "opened_at", "ticket", "ticket_filed_at")
    readonly_fields = fields
