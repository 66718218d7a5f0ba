"""POST /api/v1/auth/token/: an API token for an email address and password."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def url(ticket=None, suffix=""):
    base = "/api/v1/tickets/"
    return f"{base}{ticket.reference}/{suffix}" if ticket else base


class TestToken:
    def test_exchanges_email_and_password_for_a_token_that_authenticates(self, customer, password):
        client = APIClient()
        response = client.post("/api/v1/auth/token/", {"username": "Alice@Example.com", "password": password})
        assert response.status_code == 200, response.content
        token = response.json()["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get(url()).status_code == 200

    def test_refuses_a_wrong_password_without_saying_which_part_was_wrong(self, customer):
        response = APIClient().post("/api/v1/auth/token/", {"username": "alice@example.com", "password": "nope"})
        unknown = APIClient().post("/api/v1/auth/token/", {"username": "nobody@example.com", "password": "nope"})
        assert response.status_code == unknown.status_code == 400
        assert response.json() == unknown.json()

    def test_is_rate_limited_per_account(self, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "3/m"}
        client = APIClient()
        codes = [
            client.post("/api/v1/auth/token/", {"username": "alice@example.com", "password": "x"}).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]

    def test_anonymous_requests_are_refused(self):
        assert APIClient().get(url()).status_code == 401
