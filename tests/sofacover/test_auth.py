"""signed_in_user: the door's word that the visitor signed in, checked."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from rest_framework.request import Request

from sofacover.auth import signed_in_user
from tests.tickets.factories import make_user

pytestmark = pytest.mark.django_db


class TestSignedInUser:
    def test_returns_the_user_of_a_signed_in_request(self):
        user = make_user("ann@example.com")
        request = RequestFactory().get("/")
        request.user = user
        assert signed_in_user(request) == user

    def test_returns_the_user_of_an_authenticated_api_request(self):
        user = make_user("ann@example.com")
        request = Request(RequestFactory().get("/"))
        request.user = user
        assert signed_in_user(request) == user

    def test_refuses_an_anonymous_visitor(self):
        request = RequestFactory().get("/")
        request.user = AnonymousUser()
        with pytest.raises(PermissionDenied):
            signed_in_user(request)
