"""Who may do what with the knowledge base. Predicates return booleans; views decide 403 or 404."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext_lazy
from rest_framework import permissions

from accounts.permissions import is_agent

from .models import Article


def can_see_internal(user: User | AnonymousUser) -> bool:
    """Agents, managers and admins see internal runbooks, drafts and archived articles."""
    return is_agent(user)


def can_view_article(user: User | AnonymousUser, article: Article) -> bool:
    return article.is_public or can_see_internal(user)


def can_add_article(user: User | AnonymousUser) -> bool:
    return is_agent(user) and user.has_perm("knowledge.add_article")


def can_change_article(user: User | AnonymousUser) -> bool:
    return is_agent(user) and user.has_perm("knowledge.change_article")


def can_view_revisions(user: User | AnonymousUser) -> bool:
    return is_agent(user) and user.has_perm("knowledge.view_articlerevision")


def can_vote(user: User | AnonymousUser) -> bool:
    """Through the API, signed-in users vote (keyed by user); the portal lets anonymous visitors vote by session."""
    return bool(user.is_authenticated and user.is_active)


def can_work_runbooks(user: User | AnonymousUser) -> bool:
    """Attach runbooks to tickets and tick their steps."""
    return is_agent(user)


def can_use_templates(user: User | AnonymousUser) -> bool:
    return is_agent(user)


def can_edit_templates(user: User | AnonymousUser) -> bool:
    return is_agent(user) and user.has_perm("knowledge.change_responsetemplate")


class ArticleWritePermission(permissions.BasePermission):
    """Reads are open to everyone (what they see is filtered); writing articles needs the knowledge permission."""

    message = gettext_lazy("Only support agents with the knowledge permission may write articles.")

    def has_permission(self, request, view) -> bool:
        action = getattr(view, "action", None)
        if action == "create":
            return request.user.is_authenticated and can_add_article(request.user)
        if action in ("update", "partial_update"):
            return request.user.is_authenticated and can_change_article(request.user)
        # Reads, and actions that check their own rule (vote, revisions).
        return True
