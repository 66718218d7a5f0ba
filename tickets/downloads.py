"""Serving a stored attachment: one response for every door that hands out files (portal, API)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.translation import gettext

from .models import Attachment

# Headers that keep a browser from ever rendering an attachment on our origin.
SAFE_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download (``Content-Disposition: attachment``), never rendered, never cached.

    Call it only with an attachment the caller may see (``selectors.attachment_get_visible_to``).

    :raises Http404: if the row outlived its file (a restored backup, say)
    """
    try:
        stream = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(gettext("This file is no longer available.")) from exc
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    for header, value in SAFE_DOWNLOAD_HEADERS.items():
        response[header] = value
    return response
