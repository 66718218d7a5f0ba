"""Checking uploads by their content, not their name.

A file is accepted when its extension is on the allow-list, its bytes are what
the extension claims, and nothing in it would run if a browser or a PDF reader
were tricked into running it: HTML tags a browser would build, event-handler
attributes and script URLs anywhere in the file (read whole, streamed, never in
pieces with gaps between them), an image whose first bytes are also a script,
and PDF JavaScript, automatic actions and embedded files, found by parsing the
PDF, object streams included. The stored name is generated elsewhere; the
customer's name is only cleaned for display.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext

from .markup import TEXT_SIGNATURES, MarkupScanner, reads_as_script
from .pdf import check_pdf

# extension -> (content type we serve, content types the bytes may sniff as; None = text)
ALLOWED: dict[str, tuple[str, frozenset[str] | None]] = {
    "pdf": ("application/pdf", frozenset({"application/pdf"})),
    "png": ("image/png", frozenset({"image/png"})),
    "jpg": ("image/jpeg", frozenset({"image/jpeg"})),
    "jpeg": ("image/jpeg", frozenset({"image/jpeg"})),
    "gif": ("image/gif", frozenset({"image/gif"})),
    "webp": ("image/webp", frozenset({"image/webp"})),
    "zip": ("application/zip", frozenset({"application/zip"})),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        frozenset({"application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        frozenset({"application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
    ),
    "txt": ("text/plain", None),
    "log": ("text/plain", None),
    "csv": ("text/csv", None),
}
COMPRESSED = {"zip", "docx", "xlsx"}
HEAD_BYTES = 8192
INVISIBLE = re.compile(r"[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class CheckedUpload:
    file: UploadedFile
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(name: str) -> str:
    """NFKC-normalise, drop invisible and control characters and any path, before any check."""
    name = INVISIBLE.sub("", unicodedata.normalize("NFKC", name or ""))
    name = PureWindowsPath(PurePosixPath(name).name).name.strip().strip(".")
    return name[-150:] or "attachment"


def allowed_extensions() -> str:
    return ", ".join(sorted(ALLOWED))


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Return what to store for an upload, or raise ValidationError saying why it is refused."""
    filename = clean_filename(upload.name or "")
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            gettext("“%(filename)s” is larger than the %(limit)s limit.")
            % {"filename": filename, "limit": filesizeformat(limit)},
            code="too_large",
        )
    if upload.size == 0:
        raise ValidationError(gettext("“%(filename)s” is empty.") % {"filename": filename}, code="empty")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in ALLOWED:
        raise ValidationError(
            gettext("“%(filename)s”: this type of file is not accepted. Allowed: %(allowed)s.")
            % {"filename": filename, "allowed": allowed_extensions()},
            code="type_not_allowed",
        )
    content_type, sniffable = ALLOWED[extension]

    digest = hashlib.sha256()
    head = b""
    # Archives are compressed, so markup in them is noise; what they hold is never served unpacked.
    scanner = MarkupScanner() if extension not in COMPRESSED else None
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if scanner is not None and scanner.feed(chunk):
            raise ValidationError(
                gettext("“%(filename)s” contains web page or script content and is refused.") % {"filename": filename},
                code="active_content",
            )
    upload.seek(0)

    guessed = filetype.guess_mime(head)
    if sniffable is None:
        if guessed is not None or b"\x00" in head:
            raise ValidationError(
                gettext("“%(filename)s” is not a plain text file.") % {"filename": filename}, code="content_mismatch"
            )
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the 8 KiB boundary is still text.
            if exc.start < len(head) - 4:
                raise ValidationError(
                    gettext("“%(filename)s” is not UTF-8 text.") % {"filename": filename}, code="content_mismatch"
                ) from exc
    elif guessed not in sniffable:
        raise ValidationError(
            gettext("“%(filename)s” does not contain what its name says (%(extension)s).")
            % {"filename": filename, "extension": extension},
            code="content_mismatch",
        )
    if extension in TEXT_SIGNATURES and reads_as_script(head, TEXT_SIGNATURES[extension]):
        raise ValidationError(
            gettext("“%(filename)s” is also a script and is refused.") % {"filename": filename}, code="active_content"
        )
    if extension == "pdf":
        check_pdf(upload, filename)
        upload.seek(0)
    return CheckedUpload(
        file=upload, filename=filename, content_type=content_type, size=upload.size, sha256=digest.hexdigest()
    )


def check_uploads(uploads: list[UploadedFile]) -> list[CheckedUpload]:
    if len(uploads) > settings.ATTACHMENT_MAX_FILES:
        raise ValidationError(
            gettext("At most %(count)s files per message.") % {"count": settings.ATTACHMENT_MAX_FILES},
            code="too_many",
        )
    errors: list[ValidationError] = []
    checked: list[CheckedUpload] = []
    for upload in uploads:
        try:
            checked.append(check_upload(upload))
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationError(errors)
    return checked
