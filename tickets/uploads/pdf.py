"""Refusing PDFs that carry JavaScript, automatic actions or embedded files: found by parsing, not by grep."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    PdfObject,
)

# Names of JavaScript, of actions that start programs, load or send data, of embedded files,
# Flash/3D content and XFA forms (which carry script). Escapes (/J#61vaScript) are decoded by the
# parser before they are compared.
PDF_ACTIVE_NAMES = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToE",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/EF",
        "/RichMedia",
        "/RichMediaContent",
        "/RichMediaExecute",
        "/OnInstantiate",
        "/XFA",
    }
)
# Schemes a link in a PDF may open; anything else (javascript:, file:, data:, ...) is refused.
PDF_URI_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_URI_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_URI_IGNORED = re.compile(r"[\x00-\x20\x7f]")
_GOTO_CHAIN_LIMIT = 16
# Parsing costs about 0.1 ms an object: this bounds the check to a few seconds. An invoice has a
# hundred objects, a 300-page manual a few thousand.
PDF_MAX_OBJECTS = 20_000


class _PdfRefused(Exception):
    pass


class _PdfTooComplex(Exception):
    pass


def check_pdf(upload: UploadedFile, filename: str) -> None:
    """Refuse a PDF that pypdf cannot read, that is encrypted, or that holds script or automatic actions.

    Every object the cross-reference tables and streams list is parsed, those inside compressed
    object streams too, and so is everything reachable from the trailer.
    """
    try:
        reader = PdfReader(upload, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise FileNotDecryptedError("needs a password")
        _pdf_walk(reader)
    except _PdfRefused as exc:
        raise ValidationError(
            gettext(
                "“%(filename)s” contains JavaScript, embedded files or actions that run by themselves, and is refused."
            )
            % {"filename": filename},
            code="active_content",
        ) from exc
    except _PdfTooComplex as exc:
        raise ValidationError(
            gettext("“%(filename)s” has more than %(count)s objects, too many to check, and is refused.")
            % {"filename": filename, "count": f"{PDF_MAX_OBJECTS:,}"},
            code="too_complex",
        ) from exc
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ValidationError(
            gettext("“%(filename)s” is encrypted, so it cannot be checked. Please send it without a password.")
            % {"filename": filename},
            code="encrypted",
        ) from exc
    except Exception as exc:  # a parser reading hostile input can fail in any way: all mean "unreadable"
        raise ValidationError(
            gettext("“%(filename)s” could not be read as a PDF and is refused.") % {"filename": filename},
            code="unreadable",
        ) from exc


def _pdf_walk(reader: PdfReader) -> None:
    pending: list[PdfObject] = [reader.trailer]
    pending += [IndirectObject(num, gen, reader) for gen, numbers in reader.xref.items() for num in numbers]
    pending += [IndirectObject(num, 0, reader) for num in reader.xref_objStm]
    if len(pending) > PDF_MAX_OBJECTS + 1:
        raise _PdfTooComplex(len(pending))
    seen: set[tuple[int, int]] = set()
    while pending:
        item: PdfObject | None = pending.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
            if len(seen) > PDF_MAX_OBJECTS:
                raise _PdfTooComplex(len(seen))
            item = item.get_object()
        if isinstance(item, NameObject) and item in PDF_ACTIVE_NAMES:
            raise _PdfRefused(item)
        if isinstance(item, DictionaryObject):
            _pdf_check_dictionary(item)
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, ArrayObject):
            pending += item


def _pdf_check_dictionary(dictionary: DictionaryObject) -> None:
    if "/OpenAction" in dictionary and not _only_goes_to(dictionary.get("/OpenAction")):
        raise _PdfRefused("/OpenAction")
    if "/AA" in dictionary:
        triggers = _resolved(dictionary.get("/AA"))
        if isinstance(triggers, DictionaryObject) and not all(_only_goes_to(a) for a in triggers.values()):
            raise _PdfRefused("/AA")
    if _resolved(dictionary.get("/S")) == "/URI":
        uri: PdfObject | str | None = _resolved(dictionary.get("/URI"))
        if isinstance(uri, ByteStringObject):
            uri = uri.decode("latin-1")
        if isinstance(uri, str):  # a TextStringObject is a str
            scheme = _URI_SCHEME.match(_URI_IGNORED.sub("", uri).lower())
            if scheme and scheme.group(1) not in PDF_URI_SCHEMES:
                raise _PdfRefused(uri)


def _only_goes_to(action: PdfObject | None, depth: int = 0) -> bool:
    """An automatic action (opening the file or a page, ...) may only go to a place in the document."""
    action = _resolved(action)
    if not isinstance(action, DictionaryObject):
        return True  # a destination: a page and a view, or a named destination
    if depth > _GOTO_CHAIN_LIMIT or _resolved(action.get("/S")) != "/GoTo":
        return False
    following = _resolved(action.get("/Next"))
    actions = following if isinstance(following, ArrayObject) else [following]
    return all(_only_goes_to(item, depth + 1) for item in actions if item is not None)


def _resolved(value: PdfObject | None) -> PdfObject | None:
    return value.get_object() if isinstance(value, IndirectObject) else value
