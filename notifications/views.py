"""The one public page of the notifications app: a reply's attachment, through the signed link in a mail."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseGone
from django.utils import timezone
from django.views.decorators.http import require_GET

from tickets.downloads import attachment_response

from . import links


@require_GET
def mail_attachment(request: HttpRequest, token: str) -> FileResponse | HttpResponse:
    """Download an attachment a mail linked to (it was over the mail's size cap); 404 forged, 410 expired."""
    try:
        attachment = links.attachment_from_link(token, now=timezone.now())
    except links.AttachmentLinkInvalid as exc:
        raise Http404(exc.message) from exc
    except links.AttachmentLinkExpired as exc:
        return HttpResponseGone(exc.message, content_type="text/plain; charset=utf-8")
    return attachment_response(attachment)
