"""Who may read the reports: desk staff holding reports.view_reports (Managers and Admins)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404
from django.utils.translation import gettext, gettext_lazy
from rest_framework import permissions

from accounts import permissions as roles

VIEW_REPORTS = "reports.view_reports"


def can_view_reports(user: User | AnonymousUser) -> bool:
    return roles.is_agent(user) and user.has_perm(VIEW_REPORTS)


class CanViewReports(permissions.BasePermission):
    """Customers are told nothing exists (404); agents without the permission get 403."""

    message = gettext_lazy("Only managers may read the reports.")

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            return True  # a method the view does not have: let it answer 405, as for everyone
        if not roles.is_agent(request.user):
            raise Http404(gettext("Not found."))
        return request.user.has_perm(VIEW_REPORTS)
