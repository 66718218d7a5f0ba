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


# --- the console's incident pages, the phone intake, upload and API refusals ---------------------------


def test_incident_list_declare_form_and_page_in_german(client, agent):
    """The incident admin's own words (templates, forms, list columns) follow the agent's language."""
    from django.utils import timezone

    from incidents.models import Component
    from support import usecases

    client.force_login(agent)
    incident = usecases.declare_incident(
        declared_by=agent,
        now=timezone.now(),
        severity="P1",
        title="Kasse fällt aus",
        impact="Kartenzahlungen scheitern",
        users_affected=3,
        actions=["Release 42 zurückrollen"],
        components=Component.objects.none(),
    )
    html = page(client, reverse("admin:incidents_incident_changelist"), **GERMAN)
    assert "Störung ausrufen" in html  # the add button
    assert "Nächstes Update fällig" in html  # a column
    assert "Declare incident" not in html
    html = page(client, reverse("admin:incidents_incident_add"), **GERMAN)
    assert "Betroffene Nutzer" in html  # a form label
    assert "Auswirkung, Krisenraum, Einsatzleitung und Maßnahmen bleiben intern." in html
    html = page(client, reverse("admin:incidents_incident_change", args=[incident.pk]), **GERMAN)
    assert "Aktuelle Maßnahmen (0 von 1 erledigt)" in html
    assert "Etwa 3 Nutzer betroffen." in html
    assert "Ein Update veröffentlichen" in html
    assert "Current actions" not in html
    html = page(client, reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert "Current actions (0 of 1 done)" in html
    assert "About 3 users affected." in html


def test_incident_refusal_from_a_form_and_its_flash_message_in_german(client, agent):
    from django.contrib.messages import get_messages
    from django.utils import timezone

    from incidents.models import Component
    from support import usecases

    client.force_login(agent)
    incident = usecases.declare_incident(
        declared_by=agent,
        now=timezone.now(),
        severity="P2",
        title="Suche langsam",
        impact="Suche braucht 5 s",
        components=Component.objects.none(),
    )
    url = reverse("admin:incidents_incident_link", args=[incident.pk])
    response = client.post(url, {"link-tickets": "SCP-999999"}, **GERMAN)
    assert response.status_code == 400
    assert "Kein solches Ticket: SCP-999999." in response.content.decode()
    ticket = TicketFactory()
    response = client.post(url, {"link-tickets": ticket.reference}, **GERMAN)
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 Ticket verknüpft."]


def test_phone_intake_in_german(client, agent):
    client.force_login(agent)
    url = reverse("admin:tickets_ticket_phone")
    html = page(client, url, **GERMAN)
    assert "E-Mail des Anrufers" in html
    assert 'value="Ticket erstellen"' in html
    assert "Der Kanal des Tickets ist <strong>Telefon</strong>" in html
    response = client.post(
        url, {"subject": "Kasse", "description": "Geht nicht", "priority": "P2", "category": "other"}, **GERMAN
    )
    assert response.status_code == 400
    assert "Geben Sie die E-Mail-Adresse oder Telefonnummer des Anrufers an." in response.content.decode()
    response = client.post(url, {"subject": "Checkout", "description": "Fails", "priority": "P2", "category": "other"})
    assert "Give the caller&#x27;s email or phone number." in response.content.decode()


def test_cc_panel_in_german(client, agent):
    client.force_login(agent)
    ticket = TicketFactory()
    html = page(client, reverse("admin:tickets_ticket_change", args=[ticket.pk]), **GERMAN)
    assert "In Kopie bei Antworten" in html
    assert "Sonst ist niemand in Kopie." in html
    assert "Copied on replies" not in html


def test_an_upload_refusal_reads_in_german(customer_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "subject": "Bezug eingelaufen",
        "description": "Siehe Datei.",
        "priority": "P3",
        "category": "orders",
        "attachments": [SimpleUploadedFile("setup.exe", b"MZ\x90\x00", content_type="application/octet-stream")],
    }
    response = customer_client.post(reverse("portal:ticket-new"), data, **GERMAN)
    assert response.status_code == 400
    (error,) = response.context["form"].errors["attachments"]
    assert error.startswith("„setup.exe“: Dieser Dateityp wird nicht angenommen. Erlaubt: ")
    data["attachments"] = [SimpleUploadedFile("setup.exe", b"MZ\x90\x00", content_type="application/octet-stream")]
    response = customer_client.post(reverse("portal:ticket-new"), data)
    (error,) = response.context["form"].errors["attachments"]
    assert error.startswith("“setup.exe”: this type of file is not accepted. Allowed: ")


def test_api_validation_messages_read_in_german(api_client_for, customer, agent):
    """Messages only the API gives (its views' and serializers' own) follow Accept-Language too."""
    client = api_client_for(customer)
    response = client.post("/api/v1/tickets/", [1, 2], format="json", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == ["Senden Sie ein JSON-Objekt mit den Feldern des Tickets."]
    response = client.post("/api/v1/tickets/", [1, 2], format="json")
    assert response.json()["non_field_errors"] == ["Send a JSON object with the ticket's fields."]
    # A service's refusal with a value in it: the placeholder is filled after translating.
    response = api_client_for(agent).post(
        "/api/v1/incidents/",
        {"severity": "P2", "title": "Suche", "impact": "langsam", "ticket": "SCP-999999"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["ticket"] == ["Kein Ticket SCP-999999."]


REFUSALS = {"DomainError", "Conflict", "ValidationError", "PermissionDenied", "NotFound", "Http404", "NotAllowed"}


def _literal_refusals(path: Path) -> list[str]:
    """Refusals raised with a bare string or an f-string (never translated) in one module."""
    import ast

    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            literal = isinstance(first, ast.JoinedStr) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str)
            )
            if literal and (name in REFUSALS or (name.endswith(("Refused", "Invalid", "Expired")) and name[0] != "_")):
                found.append(f"{path}:{node.lineno} {name}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def test_no_refusal_is_raised_with_an_untranslated_or_f_string_message():
    """Refusals reach customers and agents: each goes through gettext with named placeholders (an f-string
    would be translated after its values are in, so never matched)."""
    base = Path(settings.BASE_DIR)
    skipped = {".venv", "node_modules", "tests", "bench", "var", "staticfiles"}
    modules = [
        path
        for path in sorted(base.glob("*/**/*.py"))
        if path.relative_to(base).parts[0] not in skipped
        and "migrations" not in path.parts
        and "management" not in path.parts
    ]
    assert len(modules) > 100
    found = [hit for path in modules for hit in _literal_refusals(path)]
    assert found == []


def test_mail_and_alerts_queued_from_a_german_console_stay_english(client, agent):
    """Mail and Slack speak the procedures' English: the incident's status label in the update queued by a
    German agent's request is English, while the console showed that agent German."""
    from incidents.models import Incident
    from notifications.models import Notification

    client.force_login(agent)
    data = {
        "severity": "P1",
        "title": "Kasse fällt aus",
        "impact": "Kartenzahlungen scheitern",
        "commander": str(agent.pk),
        "public": "on",
    }
    response = client.post(reverse("admin:incidents_incident_add"), data, **GERMAN)
    assert response.status_code == 302, response.content.decode()
    incident = Incident.objects.get()
    html = page(client, reverse("admin:incidents_incident_change", args=[incident.pk]), **GERMAN)
    assert "Wird untersucht" in html
    before = set(Notification.objects.values_list("pk", flat=True))
    update = {"update-status": "monitoring", "update-body": "Fix ausgerollt", "update-public": "on"}
    response = client.post(reverse("admin:incidents_incident_update", args=[incident.pk]), update, **GERMAN)
    assert response.status_code == 302
    bodies = " ".join(Notification.objects.exclude(pk__in=before).values_list("body", flat=True))
    assert "Monitoring" in bodies
    assert "Wird beobachtet" not in bodies
