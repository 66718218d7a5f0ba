"""python manage.py sync_articles DIR — create or update articles from markdown files.

Every file is validated before anything is written; then all changes are
applied in one transaction. Same content again: "unchanged", no new revision.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from knowledge.sync import FrontMatterError, sync_apply, sync_plan


class Command(BaseCommand):
    help = "Create or update knowledge articles from *.md files with a front matter (title, audience, category, tags)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--author", help="Email of the user recorded on the revisions.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, directory: Path, author: str | None, dry_run: bool, **options) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        actor = None
        if author:
            actor = User.objects.filter(username=author.strip().lower()).first()
            if actor is None:
                raise CommandError(f"No user {author}.")
        try:
            items = sync_plan(directory)
        except FrontMatterError as exc:
            raise CommandError(f"{exc} (nothing was changed)") from exc
        if not items:
            self.stdout.write(f"No *.md files in {directory}.")
            return
        if not dry_run:
            sync_apply(items, actor=actor, now=timezone.now())
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for item in items:
            counts[item.outcome] += 1
            detail = f" ({', '.join(item.changed_fields)})" if item.changed_fields else ""
            self.stdout.write(f"{item.outcome:<9} {item.path.name} -> {item.values['slug']}{detail}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
        self.stdout.write(self.style.SUCCESS(("Would have: " if dry_run else "") + summary + "."))
