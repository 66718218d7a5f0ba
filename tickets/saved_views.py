"""Saved views of the console's queue: an agent names the current filters, search and ordering.

Each agent sees their own views and those a manager shared with the team; only the owner renames or
deletes a view (anyone else gets a 404: another agent's private view does not exist for them). The
list is cached per agent, so the queue's page costs no query for it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404, QueryDict
from django.utils.translation import gettext

from accounts import permissions as roles
from sofacover.errors import DomainError

from .models import SavedView

# The queue's parameters a view keeps; the page number, popups and the admin's own keys are left out.
DROPPED = {"p", "_popup", "_to_field", "_changelist_filters", "e", "all"}
MAX_VIEWS = 50
CACHE_SECONDS = 600


class SavedViewRefused(DomainError):
    code = "saved_view_refused"


def clean_query(raw: str) -> str:
    """The queue's query string as a view keeps it: the known-harmless parameters, in a stable order."""
    params = QueryDict(raw[:2000])
    kept = sorted((key, value) for key, values in params.lists() if key not in DROPPED for value in values)
    return urlencode(kept)[: SavedView._meta.get_field("query").max_length]


def _cache_key(user_id: int) -> str:
    version = cache.get_or_set("saved-views:shared-version", 1)
    return f"saved-views:{user_id}:{version}"


def _forget(view: SavedView, *, was_shared: bool = False) -> None:
    cache.delete(_cache_key(view.owner_id))
    if view.shared or was_shared:
        try:
            cache.incr("saved-views:shared-version")
        except ValueError:
            cache.set("saved-views:shared-version", 2)


def views_for(user: User | AnonymousUser) -> list[dict]:
    """The agent's own views and the team's shared ones, as the queue lists them (cached)."""
    if not user.is_authenticated:
        return []
    key = _cache_key(user.pk)
    views = cache.get(key)
    if views is None:
        views = [
            {"id": v.pk, "name": v.name, "query": v.query, "shared": v.shared, "mine": v.owner_id == user.pk}
            for v in SavedView.objects.filter(Q(owner=user) | Q(shared=True)).order_by("name", "id")[:MAX_VIEWS]
        ]
        cache.set(key, views, CACHE_SECONDS)
    return views


def own_view(*, user: User, pk: int) -> SavedView:
    """The user's own view: 404 for another agent's, shared or not."""
    view = SavedView.objects.filter(pk=pk, owner=user).first()
    if view is None:
        raise Http404(gettext("No such saved view."))
    return view


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise SavedViewRefused(gettext("Name the view."), field="name")
    if len(name) > SavedView._meta.get_field("name").max_length:  # type: ignore[operator]
        raise SavedViewRefused(gettext("That name is too long."), field="name")
    return name


def _check_shared(user: User, shared: bool) -> None:
    if shared and not roles.is_manager(user):
        raise SavedViewRefused(gettext("Only managers share views with the team."), field="shared")


@transaction.atomic
def view_save(*, owner: User, name: str, query: str, shared: bool, now: datetime) -> SavedView:
    """Save the queue as it is under ``name`` (a view of that name is replaced)."""
    name = _check_name(name)
    _check_shared(owner, shared)
    existing = SavedView.objects.filter(owner=owner, name=name).first()
    if existing is None and SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS:
        raise SavedViewRefused(gettext("You have %(n)s views: delete one first.") % {"n": MAX_VIEWS}, field="name")
    view, _ = SavedView.objects.update_or_create(
        owner=owner,
        name=name,
        defaults={"query": clean_query(query), "shared": shared, "updated_at": now},
        create_defaults={"query": clean_query(query), "shared": shared, "updated_at": now, "created_at": now},
    )
    _forget(view, was_shared=existing is not None and existing.shared)
    return view


@transaction.atomic
def view_rename(*, view: SavedView, name: str, now: datetime) -> SavedView:
    name = _check_name(name)
    view.name, view.updated_at = name, now
    try:
        with transaction.atomic():
            view.save(update_fields=["name", "updated_at"])
    except IntegrityError as exc:
        raise SavedViewRefused(gettext("You have a view of that name already."), field="name") from exc
    _forget(view)
    return view


@transaction.atomic
def view_delete(*, view: SavedView) -> None:
    view.delete()
    _forget(view)
