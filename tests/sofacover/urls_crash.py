"""A URL conf for the error-tracking tests: the desk's URLs and a view that fails holding a customer's data."""

import logging

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sofacover.urls import urlpatterns as desk_urlpatterns

logger = logging.getLogger("tests.crash")


@csrf_exempt
def crash(request: HttpRequest, token: str) -> HttpResponse:
    email = request.POST["email"]
    request.POST.get("note", "")  # the customer's words: in the request body only
    user = User.objects.get(email=email)
    logger.info("looking up the mailbox of %s", user.email)  # a breadcrumb
    raise RuntimeError(f"could not reach the mailbox of {user.email}")


urlpatterns = [path("crash/<str:token>/", crash, name="crash"), *desk_urlpatterns]
