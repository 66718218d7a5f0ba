"""Downloading attachments through the API, with the API's authentication (a token or a session)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from .. import selectors, uploads
from ..downloads import attachment_response
from .views import errors

SERVED_TYPES = sorted({content_type for content_type, _ in uploads.ALLOWED.values()})


class FileContentNegotiation(BaseContentNegotiation):
    """A file is sent as the type it was stored with, whatever the client accepts; errors are JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AttachmentDownloadView(APIView):
    content_negotiation_class = FileContentNegotiation

    @extend_schema(
        operation_id="attachments_download",
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file, as a download.")
                for content_type in SERVED_TYPES
            },
            **errors(401),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such attachment (or not yours)."),
        },
        description=(
            "Download an attachment: the `url` of an attachment in a message. The same rules as the portal: "
            "404 for a message you may not see (another customer's ticket, an internal note for a customer). "
            "Sent with `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and "
            "`Content-Security-Policy: default-src 'none'; sandbox`, in the type it was stored as."
        ),
    )
    def get(self, request: Request, id: UUID) -> FileResponse:
        attachment = selectors.attachment_get_visible_to(user=request.user, uuid=str(id))
        return attachment_response(attachment)
