"""Uploads are checked by their whole content: every bypass found in review is refused at both doors
(portal and API) with a field message, and real files of every allowed type still pass."""

from __future__ import annotations

import io
import re
import time
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from tests.tickets import files
from tests.tickets.factories import TicketFactory
from tickets.models import Attachment, Message, Ticket
from tickets.uploads import check_upload, markup
from tickets.uploads.markup import MarkupScanner
from tickets.uploads.pdf import PDF_MAX_OBJECTS

pytestmark = pytest.mark.django_db

SCRIPT_OR_PAGE = "contains web page or script content and is refused"
PDF_SCRIPT = "contains JavaScript, embedded files or actions that run by themselves, and is refused"
READ_SIZE = UploadedFile.DEFAULT_CHUNK_SIZE  # the 64 KiB pieces uploads are read in
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) go to a temporary file, read in READ_SIZE pieces.
ON_DISK = 41 * READ_SIZE

# name, bytes, the message the customer reads
BYPASSES = {
    "pdf-javascript-with-escaped-names": ("invoice.pdf", files.pdf_with_escaped_javascript(), PDF_SCRIPT),
    "pdf-javascript-in-a-compressed-object-stream": (
        "invoice.pdf",
        files.pdf_with_script_in_object_stream(),
        PDF_SCRIPT,
    ),
    "img-onerror-in-a-text-file": (
        "notes.txt",
        b"Order 1234 arrived torn.\n<img src=x onerror=alert(document.cookie)>\n",
        SCRIPT_OR_PAGE,
    ),
    "html-appended-after-a-png": ("seam.png", files.png_bytes() + b"<img src=x onerror=alert(1)>", SCRIPT_OR_PAGE),
    "script-split-across-the-read-boundary": (
        "app.log",
        b"a" * (ON_DISK - 4) + b"<script>alert(1)</script>\n",
        SCRIPT_OR_PAGE,
    ),
    "gif-that-is-also-javascript": ("photo.gif", files.gif_script_polyglot(), "is also a script and is refused"),
    "pdf-that-cannot-be-parsed": (
        "invoice.pdf",
        b"%PDF-1.7\n" + b"not a pdf body " * 40,
        "could not be read as a PDF and is refused",
    ),
}

LEGIT = {
    "pdf": ("invoice.pdf", files.pdf_bytes(), "application/pdf"),
    "png": ("seam.png", files.png_bytes(), "image/png"),
    "jpeg": ("seam.jpg", files.jpeg_bytes(), "image/jpeg"),
    "gif": ("seam.gif", files.GIF, "image/gif"),
    "docx": (
        "letter.docx",
        files.docx_bytes(),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": ("orders.xlsx", files.xlsx_bytes(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "zip": (
        "photos.zip",
        files.zip_bytes({"notes.txt": b"<script>kept inside, never served</script>"}),
        "application/zip",
    ),
    "txt": ("notes.txt", "Order 1234 — the cover is 2 cm < the sofa.\n".encode() * 3000, "text/plain"),
    "csv": ("orders.csv", b"order,size,note\n1234,L,price<100\n1235,XL,\"said 'on time'\"\n", "text/csv"),
    "log": (
        "app.log",
        b'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
        b"    at com.example.Cart.<init>(Cart.java:42)\n<Response [200]> online=true\n",
        "text/plain",
    ),
}


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _portal_file(client, name: str, content: bytes):
    data = {
        "subject": "Cover shrank in the wash",
        "description": "See the file.",
        "priority": "P3",
        "category": "orders",
        "attachments": [_upload(name, content)],
    }
    return client.post(reverse("portal:ticket-new"), data)


def _api_reply(api_client_for, customer, name: str, content: bytes):
    ticket = TicketFactory(requester=customer)
    response = api_client_for(customer).post(
        f"/api/v1/tickets/{ticket.reference}/messages/",
        {"body": "See the file.", "attachments": [_upload(name, content)]},
        format="multipart",
    )
    return ticket, response


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


class TestRefusedUploads:
    @pytest.mark.parametrize(("name", "content", "message"), BYPASSES.values(), ids=BYPASSES.keys())
    def test_the_portal_refuses_it_with_a_field_message_and_files_nothing(
        self, customer_client, name, content, message
    ):
        response = _portal_file(customer_client, name, content)
        assert response.status_code == 400
        errors = response.context["form"].errors["attachments"]
        assert errors == [f"“{name}” {message}."]
        assert Ticket.objects.count() == 0
        assert Attachment.objects.count() == 0

    @pytest.mark.parametrize(("name", "content", "message"), BYPASSES.values(), ids=BYPASSES.keys())
    def test_the_api_refuses_it_with_a_field_message_and_writes_nothing(
        self, api_client_for, customer, name, content, message
    ):
        ticket, response = _api_reply(api_client_for, customer, name, content)
        assert response.status_code == 400
        assert response.json() == {"attachments": [f"“{name}” {message}."]}
        assert not Message.objects.filter(ticket=ticket).exists()
        assert Attachment.objects.count() == 0


class TestAcceptedUploads:
    @pytest.mark.parametrize(("name", "content", "content_type"), LEGIT.values(), ids=LEGIT.keys())
    def test_the_portal_accepts_a_real_file(self, customer_client, name, content, content_type):
        response = _portal_file(customer_client, name, content)
        assert response.status_code == 302, response.context["form"].errors
        attachment = Attachment.objects.get()
        assert (attachment.filename, attachment.content_type, attachment.size) == (name, content_type, len(content))

    @pytest.mark.parametrize(("name", "content", "content_type"), LEGIT.values(), ids=LEGIT.keys())
    def test_the_api_accepts_a_real_file(self, api_client_for, customer, name, content, content_type):
        _, response = _api_reply(api_client_for, customer, name, content)
        assert response.status_code == 201, response.content
        [attachment] = response.json()["attachments"]
        assert (attachment["filename"], attachment["content_type"]) == (name, content_type)


def _refusal(name: str, content: bytes) -> str | None:
    """Check a file read in READ_SIZE pieces, as one stored on disk is."""
    try:
        check_upload(UploadedFile(io.BytesIO(content), name=name, size=len(content)))
    except ValidationError as exc:
        return exc.messages[0]
    return None


class TestMarkupAnywhereInTheFile:
    @pytest.mark.parametrize(
        "html",
        [
            b"<div onmouseover=alert(1)>hover</div>",
            b'<a title=">" onclick=alert(1)>x</a>',  # the ">" in quotes does not end the tag
            b'<b =" onclick=alert(1)>',  # an attribute named '="', then onclick
            b'<b title="x"onclick=alert(1)>',
            b"<svg/onload=alert(1)>",
            b'<!-- <b title=" --><b onclick=alert(1)>"',  # the comment ends before the quote would
            b"<IMG\tSRC=x\x0cONERROR=alert(1)>",
            b"<iframe srcdoc=x>",
            b'<a href="JaVaScRiPt:alert(1)">',
            b"<?xml version='1.0'?><x/>",
        ],
    )
    def test_html_is_found_even_when_read_one_byte_at_a_time(self, html):
        content = b"Order 1234\n" + html + b"\nthanks\n"
        assert _refusal("notes.txt", content) == f"“notes.txt” {SCRIPT_OR_PAGE}."
        scanner = MarkupScanner()
        assert any(scanner.feed(content[i : i + 1]) for i in range(len(content)))

    @pytest.mark.parametrize("offset", range(1, 30))
    def test_an_event_handler_is_found_wherever_the_read_boundary_falls(self, offset):
        content = b"x" * (READ_SIZE - offset) + b'<p class="note" data-x=">" onclick="alert(1)">hi</p>'
        assert _refusal("notes.txt", content) == f"“notes.txt” {SCRIPT_OR_PAGE}."

    def test_a_tag_far_after_a_long_attribute_is_still_read_as_one_tag(self):
        content = b'<p title="' + b"a" * (3 * READ_SIZE) + b'" onclick=alert(1)>'
        assert _refusal("notes.txt", content) == f"“notes.txt” {SCRIPT_OR_PAGE}."

    @pytest.mark.parametrize(
        "pattern",
        [b"<b><i>x</i></b> ", b'<a b="', b"<a =>", b"<a ", b"<!--->", b"<a \"x\"=y 'z'>", b"script: "],
    )
    def test_ten_megabytes_of_hostile_markup_are_read_in_seconds_not_minutes(self, pattern):
        content = pattern * (10_000_000 // len(pattern))
        started = time.perf_counter()
        assert _refusal("notes.txt", content) is None
        assert time.perf_counter() - started < 6  # under a second when idle; a Python step per tag took 10 s

    @pytest.mark.parametrize(
        "text",
        [
            b"if a < b and c > d: print('online=1')",
            b"<!-- <b onclick=alert(1)> -->",  # a comment is never a tag
            b"<module> <lambda> <init> <Response [200]>",
            b"see <https://example.com/?on=1>",
        ],
    )
    def test_plain_text_with_angle_brackets_passes(self, text):
        assert _refusal("notes.txt", text) is None


# Pieces of HTML syntax, handler-like names among them, for the scanner's property test.
SYNTAX = [
    *(bytes([c]) for c in b"<>/=\"' \n!-?ax"),
    b"--",
    b"<b",
    b"<b ",
    b"on",
    b"onCut",
    b" onCut=",
    b"=x>",
    b'"x"',
]


def _scan(content: bytes, piece_sizes: list[int], *, fast: bool) -> bool:
    scanner = MarkupScanner()
    with (
        mock.patch.object(markup, "_CLEAN_TEXT", markup._CLEAN_TEXT if fast else re.compile(b"[^<]*+")),
        mock.patch.object(markup, "_ATTRIBUTES", markup._ATTRIBUTES if fast else re.compile(b"")),
    ):
        start, piece = 0, 0
        while start < len(content):
            size = piece_sizes[piece % len(piece_sizes)]
            if scanner.feed(content[start : start + size]):
                return True
            start, piece = start + size, piece + 1
    return False


class TestMarkupScanner:
    @given(st.lists(st.sampled_from(SYNTAX), max_size=40), st.lists(st.integers(1, 8), min_size=1, max_size=4))
    @settings(max_examples=400, deadline=None)
    def test_gives_one_verdict_whatever_the_piece_sizes_and_with_or_without_its_fast_paths(self, tokens, sizes):
        content = b"".join(tokens)
        whole = _scan(content, [len(content)], fast=False)
        assert _scan(content, sizes, fast=False) == whole
        assert _scan(content, [len(content)], fast=True) == whole
        assert _scan(content, sizes, fast=True) == whole


WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


class TestImagesThatAreScripts:
    @pytest.mark.parametrize("header", [b"GIF89a/*", b"GIF87a//", b"GIF89a=`", b"GIF89a:'", b"GIF89a <!--"])
    def test_a_gif_whose_header_continues_as_a_script_is_refused(self, header):
        content = header + files.GIF[len(header) :]
        assert _refusal("x.gif", content) == "“x.gif” is also a script and is refused."

    def test_a_gif_that_is_all_text_is_refused(self):
        assert _refusal("x.gif", b"GIF89a=alert(document.domain)") == "“x.gif” is also a script and is refused."

    @pytest.mark.parametrize("width", [1, 32, 34, 47, 58, 61, 96, 640, 4096, 0x413D])
    def test_a_gif_of_any_real_width_passes(self, width):
        content = files.GIF[:6] + width.to_bytes(2, "little") + files.GIF[8:]
        assert _refusal("x.gif", content) is None

    @pytest.mark.parametrize("size", [b"/*\x01\x00", b"=`\x01\x00", b"= '\x00"])
    def test_a_webp_whose_size_field_opens_a_script_is_refused(self, size):
        content = WEBP[:4] + size + WEBP[8:]
        assert _refusal("x.webp", content) == "“x.webp” is also a script and is refused."

    @pytest.mark.parametrize("size", [b"\x1a\x00\x00\x00", b"=A\x01\x00", b":\x00\x00\x00", b"/ \x01\x00"])
    def test_a_webp_of_any_real_size_passes(self, size):
        content = WEBP[:4] + size + WEBP[8:]
        assert _refusal("x.webp", content) is None


def _pdf(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class TestPdfs:
    @pytest.mark.parametrize(
        "catalog_extra",
        [
            b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>",
            b"/OpenAction << /S /URI /URI (https://example.com/) >>",  # opens a web page by itself
            b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next << /S /Launch /F (cmd.exe) >> >>",
            b"/AA << /WC << /S /Named /N /Print >> >>",
            b"/Names << /EmbeddedFiles << /Names [(a.exe) << /Type /Filespec /EF << /F 4 0 R >> >>] >> >>",
            b"/AcroForm << /Fields [] /XFA 4 0 R >>",
        ],
    )
    def test_script_automatic_actions_and_embedded_files_are_refused(self, catalog_extra):
        content = files.pdf_document(
            [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>", *files.PAGES, b"<< /Length 0 >>"]
        )
        assert _refusal("a.pdf", content) == f"“a.pdf” {PDF_SCRIPT}."

    @pytest.mark.parametrize(
        "uri",
        # octal escapes (\152 is "j") keep the address out of reach of a byte search: only a parser reads it
        [b"\\152avascript:app.alert(1)", b" \\112avaScript:x", b"file:///C:/Windows/calc.exe"],
    )
    def test_a_link_with_a_script_or_file_address_is_refused(self, uri):
        link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (" + uri + b") >> >>"
        page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [4 0 R] >>"
        content = files.pdf_document([b"<< /Type /Catalog /Pages 2 0 R >>", files.PAGES[0], page, link])
        assert _refusal("a.pdf", content) == f"“a.pdf” {PDF_SCRIPT}."

    def test_opening_on_a_page_and_web_links_pass(self):
        content = files.pdf_document(
            [
                b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /GoTo /D [3 0 R /Fit] >> >>",
                *files.PAGES,
                b"<< /S /URI /URI (mailto:care@sofacoverpro.example) >>",
            ]
        )
        assert _refusal("a.pdf", content) is None

    def test_a_pdf_with_more_objects_than_can_be_checked_is_refused(self):
        content = files.pdf_document(
            [b"<< /Type /Catalog /Pages 2 0 R >>", *files.PAGES, *[b"<< >>"] * PDF_MAX_OBJECTS]
        )
        expected = "“a.pdf” has more than 20,000 objects, too many to check, and is refused."
        assert _refusal("a.pdf", content) == expected

    def test_a_pdf_needing_a_password_is_refused_as_uncheckable(self):
        writer = PdfWriter()
        writer.add_blank_page(width=100, height=100)
        writer.encrypt("secret", algorithm="RC4-128")
        expected = "“a.pdf” is encrypted, so it cannot be checked. Please send it without a password."
        assert _refusal("a.pdf", _pdf(writer)) == expected

    def test_a_pdf_encrypted_without_a_user_password_is_read_and_passes(self):
        writer = PdfWriter()
        writer.add_blank_page(width=100, height=100)
        writer.encrypt("", owner_password="owner", algorithm="RC4-128")
        assert _refusal("a.pdf", _pdf(writer)) is None
