"""The signed-in user of a request, typed as one.

``request.user`` is ``User | AnonymousUser`` to the type checker, rightly: only the door knows
that nobody reaches it without signing in (``login_required``, the admin site, an API view whose
permissions require authentication). ``signed_in_user`` is how a door says so: it returns the
``User`` and refuses, rather than passes on, an anonymous visitor should one ever get there.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request


def signed_in_user(request: HttpRequest | Request) -> User:
    """The request's user, for a door only signed-in users reach.

    :raises PermissionDenied: the visitor is anonymous after all (a 403, not a half-done change)
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
