"""The one limiter of the desk's doors (sofacover/ratelimit.py): login, reset, sign-up, replies, the shared cache."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from sofacover import ratelimit
from sofacover.cache import cache_config
from tests.tickets.factories import PASSWORD, T0, TicketFactory, make_user
from tickets.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _still_clock(time_machine):
    """Counters are fixed windows: a window ending mid-test would start a fresh count."""
    time_machine.move_to(T0, tick=False)


ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
NEW_PASSWORD = "velvet-armchair-lantern-42"


# --- the three login doors, as a client sees them --------------------------------------


@dataclass(frozen=True)
class Door:
    name: str
    wrong: int  # the status of a wrong password
    right: int  # the status of the right one
    attempt: Callable[[str, str, str], tuple[int, bool]]  # (email, password, client address) -> (status, signed in)

    def __str__(self) -> str:
        return self.name


def _portal(email: str, password: str, ip: str) -> tuple[int, bool]:
    client = Client()
    response = client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)
    return response.status_code, "_auth_user_id" in client.session


def _console(email: str, password: str, ip: str) -> tuple[int, bool]:
    client = Client()
    response = client.post(
        "/admin/login/", {"username": email, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )
    return response.status_code, "_auth_user_id" in client.session


def _token(email: str, password: str, ip: str, form: bool = False) -> tuple[int, bool]:
    data = {"username": email, "password": password}
    if form:
        body, content_type = urlencode(data), "application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps(data), "application/json"
    response = APIClient().post("/api/v1/auth/token/", body, content_type=content_type, REMOTE_ADDR=ip)
    return response.status_code, response.status_code == 200 and bool(response.json().get("token"))


PORTAL = Door("portal", wrong=200, right=302, attempt=_portal)
CONSOLE = Door("console", wrong=200, right=302, attempt=_console)
TOKEN = Door("token", wrong=400, right=200, attempt=_token)
DOORS = [PORTAL, CONSOLE, TOKEN]


@pytest.fixture
def owner(db) -> User:
    """The superuser: every login door lets them in."""
    return make_user("owner@sofacoverpro.com", "admin")


class TestLoginLockOut:
    @pytest.mark.parametrize("door", DOORS, ids=str)
    def test_owner_logs_in_after_attackers_fifty_failures(self, door, owner):
        for n in range(50):
            door.attempt(owner.email, f"guess-{n}", ATTACKER)
        assert door.attempt(owner.email, PASSWORD, OWNER) == (door.right, True)

    @pytest.mark.parametrize("door", DOORS, ids=str)
    def test_attacker_is_refused_after_ten_failures_even_with_the_right_password(self, door, owner):
        answers = [door.attempt(owner.email, f"guess-{n}", ATTACKER)[0] for n in range(40)]
        assert answers[:10] == [door.wrong] * 10
        assert set(answers[10:]) == {429}
        assert door.attempt(owner.email, PASSWORD, ATTACKER) == (429, False)

    def test_the_three_doors_share_one_pair_of_counters(self, settings, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "6/h"}
        for door in DOORS:
            for n in range(2):
                assert door.attempt(owner.email, f"guess-{n}", ATTACKER)[0] == door.wrong
        assert [door.attempt(owner.email, PASSWORD, ATTACKER) for door in DOORS] == [(429, False)] * 3

    def test_one_address_is_throttled_across_accounts(self, settings, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip": "5/h"}
        for n in range(5):
            assert _portal(f"someone{n}@example.com", "guess", ATTACKER)[0] == 200
        assert _portal(owner.email, PASSWORD, ATTACKER) == (429, False)
        assert _portal(owner.email, PASSWORD, OWNER) == (302, True)

    def test_an_ipv6_client_is_one_client_across_its_slash_64(self, settings, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "3/h"}
        for n in range(1, 4):
            assert _portal(owner.email, "guess", f"2001:db8:7:7::{n:x}")[0] == 200
        assert _portal(owner.email, PASSWORD, "2001:db8:7:7:ffff::1") == (429, False)
        assert _portal(owner.email, PASSWORD, "2001:db8:7:8::1") == (302, True)

    def test_successful_logins_are_not_counted(self, owner):
        # An office behind one address signs in all day; only wrong passwords count.
        assert {_portal(owner.email, PASSWORD, OWNER) for _ in range(15)} == {(302, True)}

    def test_the_refusal_page_is_the_same_whether_the_account_exists_or_not(self, settings, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "1/h"}
        pages = []
        for address in (owner.email, "ghost@example.com"):
            _portal(address, "guess", ATTACKER)
            response = Client().post("/login/", {"username": address, "password": "guess"}, REMOTE_ADDR=ATTACKER)
            pages.append((response.status_code, response.content))
        assert pages[0] == pages[1]
        assert pages[0][0] == 429

    def test_backend_checks_no_password_once_the_address_is_spent(self, settings, owner, monkeypatch):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "2/h"}
        request = RequestFactory().post("/login/", REMOTE_ADDR=ATTACKER)
        for n in range(2):
            assert authenticate(request, username=owner.email, password=f"guess-{n}") is None
        hashes = _count_hashing(monkeypatch)
        assert authenticate(request, username=owner.email, password=PASSWORD) is None
        assert hashes == []


class TestLoginAccountKey:
    def test_json_logins_of_different_accounts_do_not_share_a_bucket(self, owner, customer):
        for n in range(12):
            _token(owner.email, f"guess-{n}", ATTACKER)
        assert _token(customer.email, PASSWORD, ATTACKER) == (200, True)

    def test_json_and_form_failures_count_on_the_same_account(self, settings, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "3/h"}
        for n in range(3):
            assert _token(owner.email, f"guess-{n}", ATTACKER)[0] == 400
        assert _token(owner.email, PASSWORD, ATTACKER, form=True) == (429, False)

    @pytest.mark.parametrize("door", DOORS, ids=str)
    def test_letter_case_and_spaces_do_not_buy_attempts(self, settings, door, owner):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "3/h"}
        for spelling in ("Owner@SofaCoverPro.com", "OWNER@SOFACOVERPRO.COM", " owner@sofacoverpro.com"):
            assert door.attempt(spelling, "guess", ATTACKER)[0] == door.wrong
        assert door.attempt("oWnEr@sofacoverpro.com", PASSWORD, ATTACKER) == (429, False)

    @pytest.mark.parametrize("body", [[1, 2], {"username": ["a", "b"], "password": "x"}, {"username": 7}])
    def test_a_token_body_that_names_no_account_is_a_400(self, body):
        response = APIClient().post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=ATTACKER)
        assert response.status_code == 400


# --- reset and sign-up: the same rules, counting requests that send mail ----------------


def _reset(email: str, ip: str):
    return Client().post("/password-reset/", {"email": email}, REMOTE_ADDR=ip)


def _signup(email: str, ip: str, password: str = NEW_PASSWORD):
    return Client().post("/signup/", {"email": email, "name": "Someone", "password": password}, REMOTE_ADDR=ip)


class TestPasswordResetLimits:
    def test_owner_resets_from_another_address_after_a_flood(self, customer):
        answers = [_reset(customer.email, ATTACKER).status_code for _ in range(10)]
        assert answers == [302] * 3 + [429] * 7
        assert _reset(customer.email, OWNER).status_code == 302
        assert len(mail.outbox) == 4
        assert all(message.to == [customer.email] for message in mail.outbox)

    def test_an_inbox_gets_at_most_five_links_an_hour_from_any_number_of_addresses(self, customer):
        answers = [_reset(customer.email, f"192.0.2.{n}").status_code for n in range(1, 11)]
        assert answers == [302] * 10
        assert len(mail.outbox) == 5

    def test_one_address_is_throttled_across_accounts(self, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "password_reset_ip": "2/h"}
        assert [_reset(f"x{n}@example.com", ATTACKER).status_code for n in range(2)] == [302, 302]
        assert _reset(customer.email, ATTACKER).status_code == 429
        assert mail.outbox == []


class TestSignupLimits:
    def test_one_address_and_account_is_throttled_and_another_address_is_not(self, customer):
        answers = [_signup(customer.email, ATTACKER).status_code for _ in range(5)]
        assert answers == [302] * 3 + [429] * 2
        assert _signup(customer.email, OWNER).status_code == 302

    def test_a_rejected_form_is_not_counted(self, settings):
        settings.RATELIMITS = {**settings.RATELIMITS, "signup_ip_account": "1/h"}
        for _ in range(3):
            assert _signup("dave@example.com", OWNER, password="12345678").status_code == 200
        assert _signup("dave@example.com", OWNER).status_code == 302
        assert User.objects.filter(username="dave@example.com").exists()


def _count_hashing(monkeypatch) -> list[str]:
    """Every password the default hasher encodes from now on."""
    hasher = type(get_hasher())
    encode = hasher.encode
    calls: list[str] = []

    def counting(self, password, salt, *args, **kwargs):
        calls.append(password)
        return encode(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(hasher, "encode", counting)
    return calls


class TestSignupEqualWork:
    @pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
    def test_new_and_existing_addresses_do_the_same_work(self, monkeypatch, active):
        make_user("taken@example.com", "customer", is_active=active)
        hashes = _count_hashing(monkeypatch)
        work = []
        for address in ("fresh@example.com", "Taken@Example.com"):
            hashes.clear()
            mail.outbox.clear()
            response = Client().post(
                "/signup/", {"email": address, "name": "Sam", "password": NEW_PASSWORD}, follow=True
            )
            work.append((hashes[:], len(mail.outbox), response.redirect_chain, response.content))
        assert work[0] == work[1]
        assert work[0][0] == [NEW_PASSWORD]
        assert work[0][1] == 1

    def test_the_mail_quota_applies_to_both_paths_alike(self, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "account_mail": "1/h", "signup_ip_account": "5/h"}
        for address in (customer.email, "fresh@example.com"):
            mail.outbox.clear()
            assert [_signup(address, OWNER).status_code for _ in range(2)] == [302, 302]
            assert len(mail.outbox) == 1


# --- replies: the API's messages endpoint is limited like the portal's form --------------


class TestReplyLimits:
    def _api_reply(self, user, ticket, ip: str = OWNER) -> int:
        client = APIClient()
        client.force_authenticate(user)
        url = f"/api/v1/tickets/{ticket.reference}/messages/"
        return client.post(url, {"body": "Any news?"}, format="json", REMOTE_ADDR=ip).status_code

    def _portal_reply(self, user, ticket, ip: str = OWNER) -> int:
        client = Client()
        client.force_login(user)
        return client.post(f"/tickets/{ticket.reference}/reply/", {"body": "Any news?"}, REMOTE_ADDR=ip).status_code

    def test_api_replies_are_limited_per_customer(self, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_account": "2/h"}
        ticket = TicketFactory(requester=customer)
        assert [self._api_reply(customer, ticket) for _ in range(3)] == [201, 201, 429]
        assert Message.objects.filter(ticket=ticket, author=customer).count() == 2

    def test_api_replies_are_limited_per_client_address(self, settings, customer, other_customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_ip": "1/h"}
        mine, theirs = TicketFactory(requester=customer), TicketFactory(requester=other_customer)
        assert self._api_reply(customer, mine) == 201
        assert self._api_reply(other_customer, theirs) == 429
        assert self._api_reply(other_customer, theirs, ip=ATTACKER) == 201

    def test_portal_and_api_replies_share_one_counter(self, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_account": "2/h"}
        ticket = TicketFactory(requester=customer)
        assert [self._portal_reply(customer, ticket), self._api_reply(customer, ticket)] == [302, 201]
        assert self._api_reply(customer, ticket) == 429
        assert self._portal_reply(customer, ticket) == 429

    def test_agents_replies_are_not_limited(self, settings, agent, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_account": "1/h", "ticket_ip": "1/h"}
        ticket = TicketFactory(requester=customer)
        assert [self._api_reply(agent, ticket) for _ in range(3)] == [201, 201, 201]


# --- the shared cache ------------------------------------------------------------------


def _check_deploy(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "REDIS_URL"},
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "desk.sofacoverpro.com",
        "SOFACOVER_VAR_DIR": str(tmp_path),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestSharedCache:
    def test_check_deploy_warns_when_rate_limits_are_counted_per_process(self, tmp_path):
        result = _check_deploy(tmp_path)
        assert result.returncode != 0
        assert "sofacover.W001" in result.stdout + result.stderr

    def test_the_check_accepts_redis_and_names_any_per_process_cache(self, settings):
        settings.CACHES = {"default": cache_config("redis://127.0.0.1:6379/1")}
        assert ratelimit.shared_cache_check(None) == []
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        [warning] = ratelimit.shared_cache_check(None)
        assert warning.id == "sofacover.W001"
        assert "LocMemCache" in warning.msg
        assert "REDIS_URL" in (warning.hint or "")
