"""Settings and headers every page relies on."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.tickets.factories import TicketFactory

ROOT = Path(__file__).resolve().parents[2]


class TestDeployCheck:
    def test_production_settings_pass_check_deploy_at_warning_level(self, tmp_path):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "sofacover.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "desk.sofacoverpro.com",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SOFACOVER_VAR_DIR": str(tmp_path),
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_debug_is_off_unless_asked_for(self, tmp_path):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "sofacover.settings",
            "SOFACOVER_VAR_DIR": str(tmp_path),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == "False", result.stderr
        assert (tmp_path / "secret_key").exists(), "a development key is generated into var/"


def _production_request_is_secure(tmp_path, headers: dict[str, str], **env_extra: str) -> str:
    """Build a request under production settings in a fresh process and say whether Django deems it HTTPS."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "SOFACOVER_VAR_DIR": str(tmp_path),
        **env_extra,
    }
    code = (
        "import django; django.setup(); from django.test import RequestFactory; "
        f"print(RequestFactory().get('/', headers={headers!r}).is_secure())"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class TestProxySslHeader:
    def test_a_client_cannot_claim_https_when_no_proxy_is_configured(self, tmp_path):
        assert _production_request_is_secure(tmp_path, {"X-Forwarded-Proto": "https"}) == "False"

    def test_the_named_header_is_trusted_once_a_proxy_is_configured(self, tmp_path):
        configured = {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
        assert _production_request_is_secure(tmp_path, {"X-Forwarded-Proto": "https"}, **configured) == "True"
        assert _production_request_is_secure(tmp_path, {"X-Forwarded-Proto": "http"}, **configured) == "False"


@pytest.mark.django_db
class TestCsrf:
    def test_session_api_post_without_csrf_token_is_refused(self, customer):
        ticket = TicketFactory(requester=customer)
        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)
        response = client.post(
            f"/api/v1/tickets/{ticket.reference}/messages/", {"body": "hi"}, content_type="application/json"
        )
        assert response.status_code == 403
        assert ticket.messages.count() == 0

    def test_portal_post_without_csrf_token_is_refused(self, customer):
        ticket = TicketFactory(requester=customer)
        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)
        response = client.post(f"/tickets/{ticket.reference}/reply/", {"body": "hi"})
        assert response.status_code == 403
        assert ticket.messages.count() == 0


@pytest.mark.django_db
class TestHeaders:
    @pytest.mark.parametrize("path", ["/", "/login/", "/signup/", "/admin/login/", "/api/v1/docs/"])
    def test_every_html_page_has_a_csp_without_inline_scripts(self, client, path):
        response = client.get(path)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src
        assert "'unsafe-eval'" not in script_src
        assert "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"

    def test_pages_have_no_inline_script_blocks(self, client):
        import re

        for path in ["/", "/login/", "/signup/", "/password-reset/", "/api/v1/docs/", "/admin/login/"]:
            html = client.get(path).content.decode()
            inline = [m for m in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S) if m[1].strip()]
            assert not inline, f"{path} has inline script: {inline[:1]}"
