"""sync_articles DIR: idempotent, reports per file, validates everything before writing anything."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article, ArticleRevision

pytestmark = pytest.mark.django_db

RUNBOOK = """---
title: Runbook: zip failures
audience: internal
category: orders
tags: [runbook, zip]
---
## Steps

- [ ] Check the zip batch
- [ ] Offer a replacement
"""
FAQ = """---
title: "Do covers shrink?"
audience: public
category: other
tags: [care]
slug: do-covers-shrink
status: published
---
Not at 30 °C.
"""


def run(directory) -> str:
    out = StringIO()
    call_command("sync_articles", str(directory), stdout=out)
    return out.getvalue()


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "zip-failures.md").write_text(RUNBOOK)
    (tmp_path / "shrink.md").write_text(FAQ)
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


class TestSync:
    def test_creates_articles_from_front_matter(self, repo):
        output = run(repo)
        assert "created   shrink.md -> do-covers-shrink" in output
        assert "created   zip-failures.md -> zip-failures" in output
        assert "2 created, 0 updated, 0 unchanged." in output
        runbook = Article.objects.get(slug="zip-failures")
        assert (runbook.title, runbook.audience, runbook.category, runbook.status) == (
            "Runbook: zip failures",
            "internal",
            "orders",
            "published",
        )
        assert sorted(t.name for t in runbook.tags.all()) == ["runbook", "zip"]
        assert runbook.body_html.count('type="checkbox"') == 2
        assert Article.objects.get(slug="do-covers-shrink").title == "Do covers shrink?"

    def test_a_second_run_changes_nothing(self, repo):
        run(repo)
        revisions = ArticleRevision.objects.count()
        output = run(repo)
        assert "0 created, 0 updated, 2 unchanged." in output
        assert ArticleRevision.objects.count() == revisions

    def test_an_edited_file_updates_with_a_new_revision(self, repo):
        run(repo)
        (repo / "shrink.md").write_text(FAQ.replace("Not at 30 °C.", "Not at 30 °C; at 60 °C a little."))
        output = run(repo)
        assert "updated   shrink.md -> do-covers-shrink (body)" in output
        article = Article.objects.get(slug="do-covers-shrink")
        assert article.revisions.count() == 2
        assert article.revisions.all()[0].note == "synced from shrink.md"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("no front matter", "bad.md: must start with a '---' front matter block"),
            ("---\ntitle: x\naudience: public\ncategory: other\n", "bad.md: the front matter block is not closed"),
            ("---\naudience: public\ncategory: other\n---\nb", "bad.md: title: is required"),
            (
                "---\ntitle: x\naudience: everyone\ncategory: other\n---\nb",
                "bad.md: audience: “everyone” is not one of",
            ),
            ("---\ntitle: x\naudience: public\ncategory: sofas\n---\nb", "bad.md: category: “sofas” is not one of"),
            ("---\ntitle: x\naudience: public\ncategory: other\ncolour: red\n---\nb", "bad.md: colour: unknown field"),
            ("---\ntitle: x\naudience: public\ncategory: other\ntags: [a, b\n---\nb", "bad.md: tags: write tags as"),
            ("---\ntitle: x\naudience: public\ncategory: other\nnot a pair\n---\nb", "bad.md: line 5 is not"),
        ],
    )
    def test_a_bad_file_names_the_file_and_field_and_nothing_is_written(self, repo, text, message):
        (repo / "bad.md").write_text(text)
        before = Article.objects.count()
        with pytest.raises(CommandError, match="nothing was changed") as excinfo:
            run(repo)
        assert message in str(excinfo.value)
        assert Article.objects.count() == before  # the good files were not half-applied

    def test_two_files_with_one_slug_are_refused(self, repo):
        (repo / "again.md").write_text(FAQ)
        with pytest.raises(CommandError, match="slug: the same slug as"):
            run(repo)

    def test_a_missing_directory_is_an_error(self, tmp_path):
        with pytest.raises(CommandError, match="is not a directory"):
            run(tmp_path / "nope")

    def test_dry_run_writes_nothing(self, repo):
        out = StringIO()
        call_command("sync_articles", str(repo), "--dry-run", stdout=out)
        assert "Would have: 2 created" in out.getvalue()
        assert not Article.objects.filter(slug="zip-failures").exists()
