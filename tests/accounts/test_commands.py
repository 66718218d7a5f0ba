"""add_user: a desk user of each role from the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import permissions

pytestmark = pytest.mark.django_db


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


class TestAddUser:
    @pytest.mark.parametrize(
        ("role", "tier", "agent", "manager"),
        [
            ("customer", None, False, False),
            ("agent", 1, True, False),
            ("agent", 2, True, False),
            ("agent", 3, True, False),
            ("manager", None, True, True),
            ("admin", None, True, True),
        ],
    )
    def test_creates_a_user_of_each_role(self, role, tier, agent, manager):
        args = ["add_user", "New.Person@Example.com", "--role", role, "--password", "a-good-long-password"]
        if tier:
            args += ["--tier", str(tier)]
        out = run(*args, "--first-name", "New", "--last-name", "Person")

        user = User.objects.get(username="new.person@example.com")
        assert "Created" in out
        assert "a-good-long-password" not in out
        assert (user.first_name, user.last_name) == ("New", "Person")
        assert permissions.is_agent(user) is agent
        assert permissions.is_manager(user) is manager
        assert permissions.agent_tier(user) == tier
        assert user.is_staff is (role != "customer")
        assert user.is_superuser is (role == "admin")
        assert authenticate(username="new.person@example.com", password="a-good-long-password") == user

    def test_generates_a_strong_password_and_prints_it_once(self):
        out = run("add_user", "gen@example.com", "--role", "customer")

        shown = re.search(r"Password \(shown only this once\): (\S+)", out)
        assert shown is not None
        password = shown.group(1)
        assert len(password) >= 16
        assert out.count(password) == 1
        assert authenticate(username="gen@example.com", password=password) is not None

    def test_generated_passwords_differ(self):
        out1 = run("add_user", "one@example.com", "--role", "customer")
        out2 = run("add_user", "two@example.com", "--role", "customer")
        assert out1.split(": ")[-1] != out2.split(": ")[-1]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["not-an-email", "--role", "customer"], "is not a valid email address"),
            (["someone@", "--role", "customer"], "is not a valid email address"),
            (["agent@sofacoverpro.com", "--role", "agent"], "Agents need a tier"),
            (["bob@example.com", "--role", "customer", "--tier", "2"], "Only agents have a tier"),
            (["boss@sofacoverpro.com", "--role", "manager", "--tier", "1"], "Only agents have a tier"),
            (["x@example.com", "--role", "agent", "--tier", "4"], "invalid choice"),
            (["x@example.com", "--role", "owner"], "invalid choice"),
            (["x@example.com", "--role", "customer", "--password", "  "], "must not be empty"),
        ],
    )
    def test_refuses_bad_input_with_a_clear_message(self, args, message):
        with pytest.raises(CommandError, match=message):
            run("add_user", *args)
        assert User.objects.count() == 0

    def test_refuses_an_existing_address_whatever_its_case(self, customer):
        with pytest.raises(CommandError, match=r"alice@example\.com already exists"):
            run("add_user", "ALICE@example.com", "--role", "agent", "--tier", "1")
        assert User.objects.count() == 1

    def test_exits_non_zero_without_a_traceback_from_the_command_line(self, tmp_path):
        env = {
            **os.environ,
            "SOFACOVER_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        }
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "add_user",
                "nope",
                "--role",
                "customer",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1
        assert "is not a valid email address" in result.stderr
        assert "Traceback" not in result.stderr
