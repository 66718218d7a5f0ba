"""The portal's account pages, through the Django test client: sign-up, activation, login, logout, password reset."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from tests.tickets.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "velvet-armchair-lantern-42"


class TestSignup:
    def test_new_address_creates_an_inactive_customer_and_emails_an_activation_link(self, client):
        response = client.post(
            reverse("portal:signup"),
            {"email": "Carol@Example.com ", "name": "Carol", "password": NEW_PASSWORD},
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:signup-done")
        user = User.objects.get(username="carol@example.com")
        assert not user.is_active
        assert user.groups.filter(name="Customers").exists()
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["carol@example.com"]
        assert "Activate" in mail.outbox[0].subject
        assert "/activate/" in mail.outbox[0].body

    def test_existing_address_shows_the_same_page_sends_a_reset_hint_and_creates_nobody(self, client, customer):
        users_before = User.objects.count()
        new = client.post(
            reverse("portal:signup"),
            {"email": "new@example.com", "name": "New", "password": NEW_PASSWORD},
            follow=True,
        )
        existing = client.post(
            reverse("portal:signup"),
            {"email": "ALICE@example.com", "name": "Mallory", "password": NEW_PASSWORD},
            follow=True,
        )
        assert new.redirect_chain == existing.redirect_chain == [(reverse("portal:signup-done"), 302)]
        assert new.content == existing.content
        assert User.objects.count() == users_before + 1
        customer.refresh_from_db()
        assert customer.first_name == "Alice"
        assert customer.check_password(PASSWORD)
        exists_mail = mail.outbox[1]
        assert exists_mail.to == ["alice@example.com"]
        assert "already have" in exists_mail.subject
        assert reverse("portal:password-reset") in exists_mail.body
        assert "/activate/" not in exists_mail.body

    def test_refuses_a_weak_password_with_a_field_error(self, client):
        response = client.post(
            reverse("portal:signup"), {"email": "dave@example.com", "name": "Dave", "password": "12345678"}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["password"]
        assert not User.objects.filter(username="dave@example.com").exists()
        assert mail.outbox == []


class TestActivation:
    def _sign_up(self, client) -> str:
        client.post(reverse("portal:signup"), {"email": "erin@example.com", "name": "Erin", "password": NEW_PASSWORD})
        link = re.search(r"https?://[^/\s]+(/activate/\S+/)", str(mail.outbox[0].body))
        assert link is not None
        return link.group(1)

    def test_opening_the_link_changes_nothing_until_the_button_is_pressed(self, client):
        link = self._sign_up(client)
        response = client.get(link)
        assert response.status_code == 200
        assert b"Activate and sign in" in response.content
        assert not User.objects.get(username="erin@example.com").is_active
        assert "_auth_user_id" not in client.session

    def test_good_link_activates_and_signs_in(self, client):
        link = self._sign_up(client)
        response = client.post(link)
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:ticket-list")
        assert User.objects.get(username="erin@example.com").is_active
        assert client.get(reverse("portal:ticket-list")).status_code == 200

    def test_link_works_only_once(self, client):
        link = self._sign_up(client)
        client.post(link)
        client.post(reverse("portal:logout"))
        assert client.get(link).status_code == 400
        assert client.post(link).status_code == 400

    def test_bad_link_shows_a_clear_error(self, client):
        self._sign_up(client)
        user = User.objects.get(username="erin@example.com")
        uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
        response = client.post(f"/activate/{uidb64}/not-a-token/")
        assert response.status_code == 400
        assert b"This activation link is not valid" in response.content
        user.refresh_from_db()
        assert not user.is_active


class TestLogin:
    def test_signs_in_with_the_email_and_goes_to_my_tickets(self, client, customer):
        response = client.post(reverse("portal:login"), {"username": "Alice@Example.com", "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:ticket-list")

    def test_wrong_password_shows_a_form_error(self, client, customer):
        response = client.post(reverse("portal:login"), {"username": "alice@example.com", "password": "nope"})
        assert response.status_code == 200
        assert b"do not match an active account" in response.content

    def test_inactive_account_gets_the_same_error_as_an_unknown_one(self, client):
        services.user_create(email="ina@example.com", password=NEW_PASSWORD, role="customer", is_active=False)
        inactive = client.post(reverse("portal:login"), {"username": "ina@example.com", "password": NEW_PASSWORD})
        unknown = client.post(reverse("portal:login"), {"username": "nobody@example.com", "password": NEW_PASSWORD})
        assert inactive.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
        assert "_auth_user_id" not in client.session

    def test_follows_a_local_next(self, client, customer):
        response = client.post(
            reverse("portal:login") + "?next=/tickets/new/",
            {"username": "alice@example.com", "password": PASSWORD},
        )
        assert response["Location"] == "/tickets/new/"

    @pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "https:///evil.example/"])
    def test_refuses_an_open_redirect(self, client, customer, target):
        response = client.post(
            reverse("portal:login"), {"username": "alice@example.com", "password": PASSWORD, "next": target}
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:ticket-list")


class TestLogout:
    def test_get_is_not_allowed(self, customer_client):
        assert customer_client.get(reverse("portal:logout")).status_code == 405
        assert "_auth_user_id" in customer_client.session

    def test_post_signs_out(self, customer_client):
        response = customer_client.post(reverse("portal:logout"))
        assert response.status_code == 302
        assert "_auth_user_id" not in customer_client.session


class TestPasswordReset:
    def test_emails_a_link_to_our_confirm_view_that_sets_a_new_password(self, client, customer):
        response = client.post(reverse("portal:password-reset"), {"email": "alice@example.com"})
        assert response["Location"] == reverse("portal:password-reset-done")
        assert len(mail.outbox) == 1
        link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", str(mail.outbox[0].body))
        assert link is not None
        path = link.group(1)
        set_password = client.get(path)
        assert set_password.status_code == 302
        form_page = client.get(set_password["Location"])
        assert form_page.context["validlink"]
        done = client.post(set_password["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert done["Location"] == reverse("portal:password-reset-complete")
        customer.refresh_from_db()
        assert customer.check_password(NEW_PASSWORD)

    def test_unknown_address_gets_the_same_page_and_no_mail(self, client, customer):
        response = client.post(reverse("portal:password-reset"), {"email": "nobody@example.com"})
        assert response["Location"] == reverse("portal:password-reset-done")
        assert mail.outbox == []

    def test_bad_link_says_so(self, client, customer):
        response = client.get("/password-reset/MQ/bad-token/")
        assert response.status_code == 200
        assert b"This link is not valid" in response.content
