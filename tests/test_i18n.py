"""English by default, German when the browser asks for it or the switcher set it: the portal, the help centre
and the console speak the visitor's language; the catalogue compiles and is complete."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}
PO = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"


def page(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_english_is_the_default(client):
    html = page(client, reverse("portal:home"))
    assert '<html lang="en-gb">' in html
    assert "How can we help?" in html
    assert "Wie können wir helfen?" not in html


@pytest.mark.parametrize(
    ("url_name", "english", "german"),
    [
        ("portal:home", "How can we help?", "Wie können wir helfen?"),
        ("portal:login", "Forgotten your password?", "Passwort vergessen?"),
        ("kb:home", "Browse by topic", "Nach Thema stöbern"),
        ("status:page", "Get updates by email", "Meldungen per E-Mail erhalten"),
    ],
)
def test_anonymous_pages_follow_accept_language(client, url_name, english, german):
    html = page(client, reverse(url_name), **GERMAN)
    assert '<html lang="de">' in html
    assert german in html
    assert english not in html
    assert "Zum Hauptinhalt springen" in html  # the layout too
    # The next visitor, with no preference, reads English again (nothing cached across languages).
    html = page(client, reverse(url_name))
    assert english in html
    assert german not in html


def test_new_ticket_form_and_ticket_list_in_german(customer_client, customer):
    TicketFactory(requester=customer, subject="Bezug passt nicht")
    html = page(customer_client, reverse("portal:ticket-new"), **GERMAN)
    assert "Ticket einreichen" in html
    assert "Ticket senden" in html
    assert "Wie dringend ist es?" in html  # form labels, from Python
    assert "P0 Kritisch — Der Shop ist nicht erreichbar" in html  # choice labels and their help
    html = page(customer_client, reverse("portal:ticket-list"), **GERMAN)
    assert "Meine Tickets" in html
    assert "Bezug passt nicht" in html
    assert ">Neu<" in html  # the status label


def test_knowledge_base_article_and_search_in_german(client):
    article = ArticleFactory(title="Sofa cover sizing guide", body="Measure the width of the sofa.", tags=["sizing"])
    html = page(client, reverse("kb:article", kwargs={"slug": article.slug}), **GERMAN)
    assert "Brauchen Sie noch Hilfe?" in html
    assert "Sofa cover sizing guide" in html
    html = page(client, reverse("kb:search") + "?q=zzzqqq", **GERMAN)
    assert "Nichts gefunden." in html


def test_language_cookie_from_the_switcher_wins(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("portal:home")})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    html = page(client, reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Wie können wir helfen?" in html
    # The switcher is in the header, with the current language selected.
    assert 'action="/i18n/setlang/"' in html
    assert '<option value="de" lang="de" selected>' in html


def test_unknown_language_falls_back_to_english(client):
    html = page(client, reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="xx-YY, tlh")
    assert "How can we help?" in html


def test_console_queue_in_german(client, agent):
    client.force_login(agent)
    TicketFactory()
    html = page(client, reverse("admin:tickets_ticket_changelist"), **GERMAN)
    assert '<html lang="de"' in html
    assert "Sprache wechseln" in html  # our switcher in the user tools
    assert "Abmelden" in html  # Django's own German
    html = page(client, reverse("admin:tickets_ticket_changelist"))
    assert "Change language" in html
    assert "Log out" in html


def test_console_shortcuts_read_german_from_the_admins_javascript_catalog(client, agent):
    """console.js asks the admin's JavaScript catalog (admin:jsi18n, which adds LOCALE_PATHS' djangojs)."""
    client.force_login(agent)
    german = page(client, reverse("admin:jsi18n"), **GERMAN)
    assert "Tastenk\\u00fcrzel" in german or "Tastenkürzel" in german
    assert "Tastenk" not in page(client, reverse("admin:jsi18n"))


@pytest.mark.parametrize("po", [PO, PO.with_name("djangojs.po")], ids=["django", "djangojs"])
def test_german_catalogue_is_complete_and_compiled(po):
    """Every msgid has a German msgstr (no fuzzy entries), and the committed .mo is this .po compiled."""
    text = po.read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    if shutil.which("msgfmt") is None:  # pragma: no cover - CI installs gettext
        pytest.skip("needs GNU gettext (msgfmt)")
    stats = subprocess.run(["msgfmt", "--statistics", "--check", "-o", "-", str(po)], capture_output=True)
    assert stats.returncode == 0, stats.stderr
    assert b"untranslated" not in stats.stderr, stats.stderr
    assert b"fuzzy" not in stats.stderr, stats.stderr
    mo = po.with_suffix(".mo")
    assert mo.exists(), "run `make messages`"
    assert stats.stdout == mo.read_bytes(), "locale/de: the .mo is stale; run `make messages`"


def test_a_refusal_from_the_services_reads_in_the_request_language(customer_client, customer):
    """DomainError messages marked in the services are put in words in the language of the request."""
    ticket = TicketFactory(requester=customer, status="closed")
    url = reverse("portal:ticket-reply", kwargs={"reference": ticket.reference})
    response = customer_client.post(url, {"body": "Noch da?"}, **GERMAN)
    assert response.status_code in (400, 409)
    assert "Dieses Ticket ist geschlossen. Bitte eröffnen Sie ein neues Ticket." in response.content.decode()
    response = customer_client.post(url, {"body": "Still there?"})
    assert "This ticket is closed. Please open a new ticket." in response.content.decode()
