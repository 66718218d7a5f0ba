"""The console speaks the desk's words, not Django's stock ones: list pages are titled by what they list
("Tickets", not "Select ticket to change"), and the app list and sidebar name models properly
("SLA breaches", not "Sla breachs")."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return match.group(1).strip()


def _h1(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html.split('id="content"', 1)[1], re.S)
    assert match
    return match.group(1).strip()


@pytest.mark.parametrize("model", REGISTERED, ids=[model._meta.label for model in REGISTERED])
def test_each_list_page_is_titled_by_what_it_lists(admin_client_for_console, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = admin_client_for_console.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    plural = str(model._meta.verbose_name_plural)
    expected = plural[:1].upper() + plural[1:]
    assert "Select " not in _title(html)
    assert _title(html).startswith(f"{expected} |")
    assert _h1(html) == expected


def test_the_ticket_queue_and_the_breaches(admin_client_for_console):
    html = admin_client_for_console.get(reverse("admin:tickets_ticket_changelist")).content.decode()
    assert "Select ticket to change" not in html
    assert _h1(html) == "Tickets"
    html = admin_client_for_console.get(reverse("admin:escalation_slabreach_changelist")).content.decode()
    assert _h1(html) == "SLA breaches"


def test_the_app_list_and_sidebar_name_models_properly(admin_client_for_console):
    # The console's home lists the work, not the models: its app list is one link away (?apps=1); an app's
    # own index lists that app's models.
    index = admin_client_for_console.get(reverse("admin:index"), {"apps": "1"}).content.decode()
    page = index + "".join(
        admin_client_for_console.get(reverse("admin:app_list", args=[app])).content.decode()
        for app in ("escalation", "notifications", "inbound", "incidents")
    )
    for html in (index, page):
        assert "SLA breaches" in html
        assert "SLA pauses" in html
        assert "Slack channels" in html
        assert "Inbound emails" in html
        assert "Maintenance windows" in html
        for stock in ("Sla breachs", "Sla breaches", "Sla pauses", "Inbound mails", "Suggestion opens"):
            assert stock not in html


@pytest.mark.parametrize("model", REGISTERED, ids=[model._meta.label for model in REGISTERED])
def test_no_name_is_a_stock_plural(model):
    singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
    assert not re.search(r"(ch|sh|ss|x)s$", plural), plural  # "breachs"
    assert not re.match(r"sla\b", plural, re.I) or plural.startswith("SLA"), plural
    assert not re.match(r"sla\b", singular, re.I) or singular.startswith("SLA"), singular
    assert not plural.endswith(" mails"), plural


@pytest.fixture
def admin_client_for_console(client, admin_user):
    client.force_login(admin_user)
    return client
