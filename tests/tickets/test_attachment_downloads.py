"""Attachments through the API: a token client downloads, by the link the API gives, what it may see, with the
portal's rules and the portal's safe headers."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support import usecases
from tests.tickets.factories import T0
from tests.tickets.files import pdf_bytes, png_bytes
from tickets.models import Attachment
from tickets.uploads import check_upload

pytestmark = pytest.mark.django_db

SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def token_client(user) -> APIClient:
    """A client that has only an API token: no session cookie."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def filed_with(requester, name: str = "seam photo.png", content: bytes | None = None):
    checked = check_upload(SimpleUploadedFile(name, png_bytes() if content is None else content))
    return usecases.file_ticket(
        requester=requester, subject="Torn seam", description="See photo", attachments=[checked], now=T0
    )


def internal_note_attachment(ticket, agent) -> Attachment:
    checked = check_upload(SimpleUploadedFile("trace.txt", b"stack trace\n"))
    note = usecases.reply(ticket=ticket, author=agent, body="n", internal=True, attachments=[checked], now=T0)
    return note.attachments.get()


def api_url(attachment: Attachment) -> str:
    return reverse("api-attachment", kwargs={"id": attachment.uuid})


class TestApiAttachmentLinks:
    def test_a_token_client_downloads_its_file_by_the_link_the_api_gives(self, customer):
        ticket = filed_with(customer)
        client = token_client(customer)
        messages = client.get(f"/api/v1/tickets/{ticket.reference}/messages/").json()["results"]
        [link] = [attachment["url"] for message in messages for attachment in message["attachments"]]

        response = client.get(link)

        assert response.status_code == 200
        assert isinstance(response, FileResponse)
        assert b"".join(response.streaming_content) == png_bytes()
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "seam photo.png" in response["Content-Disposition"]
        for header, value in SAFE_HEADERS.items():
            assert response[header] == value

    def test_the_link_in_a_message_is_the_api_download(self, customer):
        ticket = filed_with(customer)
        attachment = Attachment.objects.get(message__ticket=ticket)
        messages = token_client(customer).get(f"/api/v1/tickets/{ticket.reference}/messages/").json()["results"]
        assert messages[0]["attachments"][0]["url"] == f"/api/v1/attachments/{attachment.uuid}/"

    def test_sends_the_same_file_and_headers_as_the_portal(self, client, customer):
        attachment = Attachment.objects.get(message__ticket=filed_with(customer, "invoice.pdf", pdf_bytes()))
        client.force_login(customer)
        portal = client.get(reverse("portal:attachment", kwargs={"uuid": attachment.uuid}))
        api = token_client(customer).get(api_url(attachment))
        assert portal.status_code == api.status_code == 200
        assert isinstance(api, FileResponse)
        assert isinstance(portal, FileResponse)
        assert b"".join(api.streaming_content) == b"".join(portal.streaming_content) == pdf_bytes()
        for header in ("Content-Type", "Content-Disposition", "Content-Length", *SAFE_HEADERS):
            assert api[header] == portal[header], header

    def test_an_agent_downloads_an_internal_note_attachment(self, customer, agent):
        attachment = internal_note_attachment(filed_with(customer), agent)
        response = token_client(agent).get(api_url(attachment))
        assert response.status_code == 200
        assert isinstance(response, FileResponse)
        assert b"".join(response.streaming_content) == b"stack trace\n"

    def test_an_internal_note_attachment_is_not_found_for_the_customer(self, customer, agent):
        attachment = internal_note_attachment(filed_with(customer), agent)
        response = token_client(customer).get(api_url(attachment))
        assert response.status_code == 404
        assert b"stack trace" not in response.content

    def test_another_customers_attachment_is_not_found(self, customer, other_customer):
        attachment = Attachment.objects.get(message__ticket=filed_with(other_customer))
        response = token_client(customer).get(api_url(attachment))
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"

    def test_an_unknown_attachment_is_not_found(self, customer):
        response = token_client(customer).get("/api/v1/attachments/00000000-0000-4000-8000-000000000000/")
        assert response.status_code == 404

    def test_without_credentials_is_401(self, customer):
        attachment = Attachment.objects.get(message__ticket=filed_with(customer))
        response = APIClient().get(api_url(attachment))
        assert response.status_code == 401

    def test_a_file_gone_from_storage_is_not_found(self, customer):
        attachment = Attachment.objects.get(message__ticket=filed_with(customer))
        attachment.file.delete(save=False)
        assert token_client(customer).get(api_url(attachment)).status_code == 404

    def test_any_accept_header_gets_the_file(self, customer):
        attachment = Attachment.objects.get(message__ticket=filed_with(customer))
        response = token_client(customer).get(api_url(attachment), HTTP_ACCEPT="image/*")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"

    def test_the_schema_documents_a_binary_download(self, api_client_for, customer):
        schema = api_client_for(customer).get("/api/v1/schema/?format=json").json()
        operation = schema["paths"]["/api/v1/attachments/{id}/"]["get"]
        assert operation["responses"]["200"]["content"]["image/png"]["schema"] == {"type": "string", "format": "binary"}
        assert {"401", "404"} <= operation["responses"].keys()
