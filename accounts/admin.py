"""The console's account pages: API tokens (superusers only) and customers' organisations (managers)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import Organisation, OrganisationMember


# API tokens are credentials: only superusers see or manage them in the console.
class SuperuserTokenAdmin(TokenAdmin):
    def _superuser(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request):
        return self._superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, SuperuserTokenAdmin)


class OrganisationMemberInline(admin.TabularInline):
    model = OrganisationMember
    raw_id_fields = ["user"]
    extra = 1


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Managers group a company's customers; ``shared`` lets them read each other's tickets in the portal."""

    list_display = ["name", "shared", "member_count"]
    list_filter = ["shared"]
    search_fields = ["name", "memberships__user__email"]
    inlines = [OrganisationMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members=Count("memberships"))

    @admin.display(description=gettext_lazy("members"), ordering="members")
    def member_count(self, obj: Organisation) -> int:
        return obj.members  # type: ignore[attr-defined]  # annotated in get_queryset
