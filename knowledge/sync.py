"""Articles kept as markdown files: parse the front matter, validate, then apply.

A file looks like::

    ---
    title: Payment processing issues
    audience: internal
    category: payment
    tags: [runbook, payment]
    slug: runbook-payment-processing      # optional: the file name otherwise
    status: published                      # optional: published by default
    ---
    ## Steps
    - [ ] Check payment gateway status

``sync_plan`` validates every file before anything is written;
``sync_apply`` writes the plan in one transaction through the services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from sofacover.errors import DomainError

from . import services
from .models import Article

REQUIRED = ("title", "audience", "category")
OPTIONAL = ("tags", "slug", "status")
_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<value>.*?)\s*$")


class FrontMatterError(ValueError):
    def __init__(self, path: Path, message: str, field: str | None = None) -> None:
        self.path, self.field = path, field
        where = f"{path.name}: {field}: " if field else f"{path.name}: "
        super().__init__(where + message)


@dataclass
class SyncItem:
    path: Path
    values: dict
    article: Article | None = None
    outcome: Literal["created", "updated", "unchanged"] = "unchanged"
    changed_fields: list[str] = field(default_factory=list)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_file(path: Path) -> dict:
    """Front matter and body of one file.

    :raises FrontMatterError: naming the file (and the field) for anything malformed
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FrontMatterError(path, "not UTF-8 text") from exc
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise FrontMatterError(path, "must start with a '---' front matter block")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise FrontMatterError(path, "the front matter block is not closed with '---'") from None
    meta: dict[str, object] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise FrontMatterError(path, f"line {number} is not 'key: value'")
        key, value = match["key"].lower(), match["value"]
        if key not in REQUIRED + OPTIONAL:
            raise FrontMatterError(path, f"unknown field (use {', '.join(REQUIRED + OPTIONAL)})", key)
        if key in meta:
            raise FrontMatterError(path, "given twice", key)
        if key == "tags":
            inner = value[1:-1] if value.startswith("[") and value.endswith("]") else value
            if value.startswith("[") != value.endswith("]"):
                raise FrontMatterError(path, "write tags as [a, b]", key)
            meta[key] = [_unquote(tag.strip()) for tag in inner.split(",") if tag.strip()]
        else:
            meta[key] = _unquote(value)
    for key in REQUIRED:
        if not meta.get(key):
            raise FrontMatterError(path, "is required", key)
    body = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    return {
        "title": meta["title"],
        "audience": meta["audience"],
        "category": meta["category"],
        "tags": meta.get("tags", []),
        "status": meta.get("status") or Article.Status.PUBLISHED,
        "slug": meta.get("slug") or slugify(path.stem),
        "body": body,
    }


def sync_plan(directory: Path) -> list[SyncItem]:
    """Parse and validate every ``*.md`` file of ``directory``; decide created/updated/unchanged.

    :raises FrontMatterError: at the first bad file (nothing has been written)
    """
    items: list[SyncItem] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        values = parse_file(path)
        slug = values["slug"]
        if slug in seen:
            raise FrontMatterError(path, f"the same slug as {seen[slug].name}", "slug")
        seen[slug] = path
        article = Article.objects.filter(slug=slug).prefetch_related("tags").first()
        try:
            if article is None:
                services.article_check(article=None, **values)
                items.append(SyncItem(path, values, None, "created"))
            else:
                changes = services.article_changes(article, **values)
                outcome: Literal["updated", "unchanged"] = "updated" if changes else "unchanged"
                items.append(SyncItem(path, values, article, outcome, sorted(changes)))
        except DomainError as exc:
            raise FrontMatterError(path, exc.message, exc.field) from exc
    return items


@transaction.atomic
def sync_apply(items: list[SyncItem], *, actor: User | None, now: datetime) -> None:
    """Write a validated plan: all files or none."""
    for item in items:
        note = f"synced from {item.path.name}"
        if item.outcome == "created":
            item.article = services.article_create(actor=actor, now=now, note=note, **item.values)
        elif item.outcome == "updated" and item.article is not None:
            item.article = services.article_update(article=item.article, actor=actor, now=now, note=note, **item.values)
