"""The post-incident review as a PDF (fpdf2: pure Python, no system libraries).

The same parts as the markdown (``reviews.review_summary``) and the free document
as the text of its sanitised rendering (knowledge's nh3 allow-list: nothing a
script or a remote image could do reaches the PDF). Text is embedded in DejaVu
Sans when the font is installed (``/usr/share/fonts/truetype/dejavu``, Debian's
``fonts-dejavu-core``), so any language prints; without it the PDF uses the core
Helvetica font with the text folded to Latin-1 (typographic punctuation kept,
anything else a question mark). Either way no character can make the export fail:
control characters are dropped, and a glyph the font lacks (an emoji in DejaVu Sans)
prints as an empty box, which fpdf2 logs as a warning.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from knowledge import rendering

from . import reviews
from .models import Review

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
CORE_FONT = "helvetica"
# What Latin-1 lacks but the desk's own text uses, folded to its nearest Latin-1 spelling.
LATIN1_FOLD = str.maketrans(
    {
        "\u2014": "-",  # em dash
        "\u2013": "-",  # en dash
        "\u2192": "->",
        "\u2190": "<-",
        "\u2026": "...",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2022": "*",
        "\u2265": ">=",
        "\u2264": "<=",
        "\u00a0": " ",
    }
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class ReviewPdf:
    """One review's PDF: a font that prints the text, and the few layouts the review needs."""

    def __init__(self, *, font_dir: Path | None = FONT_DIR) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_margins(15, 15, 15)
        self.unicode = font_dir is not None and all((font_dir / name).is_file() for name in FONT_FILES.values())
        if self.unicode:
            assert font_dir is not None
            for style, name in FONT_FILES.items():
                self.pdf.add_font("dejavu", style, str(font_dir / name))
        self.family = "dejavu" if self.unicode else CORE_FONT

    def text(self, value: str) -> str:
        """What the font can print: no control characters; Latin-1 for the core font."""
        value = _CONTROL.sub("", value.replace("\t", "    ").replace("\r\n", "\n").replace("\r", "\n"))
        value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
        if self.unicode:
            return value
        value = unicodedata.normalize("NFC", value.translate(LATIN1_FOLD))
        return value.encode("latin-1", "replace").decode("latin-1")

    def heading(self, value: str, *, size: int = 13) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.family, "B", size)
        self.pdf.multi_cell(0, size * 0.5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1)

    def paragraph(self, value: str, *, bold_lead: str = "", size: int = 10) -> None:
        if bold_lead:
            self.pdf.set_font(self.family, "B", size)
            self.pdf.multi_cell(0, 5, self.text(bold_lead), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font(self.family, "", size)
        if value.strip():
            self.pdf.multi_cell(0, 5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")

    def field(self, label: str, value: str) -> None:
        self.pdf.set_font(self.family, "B", 10)
        self.pdf.multi_cell(55, 5, self.text(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.pdf.set_font(self.family, "", 10)
        self.pdf.multi_cell(0, 5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def review_pdf(review: Review, *, now: datetime | None = None, font_dir: Path | None = FONT_DIR) -> bytes:
    """The review as a PDF document: summary, timeline, action items, then the free document."""
    s = reviews.review_summary(review, now=now)
    doc = ReviewPdf(font_dir=font_dir)
    title = f"Post-incident review: {s.reference} {s.title}"
    doc.pdf.set_title(doc.text(title))
    doc.pdf.set_creator("SofaCover Pro Support Desk")
    doc.pdf.add_page()
    doc.heading(title, size=16)
    for label, value in s.fields:
        doc.field(label, value)
    doc.heading("Timeline")
    for at, what, body in s.timeline:
        doc.paragraph(body, bold_lead=f"{at} - {what}", size=9)
        doc.pdf.ln(1)
    doc.heading("Action items")
    for phase, rows in s.items:
        doc.heading(phase, size=11)
        for item_title, owner, due, done, notes in rows:
            box = "[ ]" if done in ("not done", "OVERDUE") else "[x]"
            doc.paragraph(
                f"Owner {owner}; due {due}; {'done ' + done if box == '[x]' else done}."
                + (f"\n{notes}" if notes.strip() else ""),
                bold_lead=f"{box} {item_title}",
                size=9,
            )
            doc.pdf.ln(1)
    doc.heading("Review")
    document = rendering.html_to_text(reviews.render_document(review))
    doc.paragraph(document or "(No review written yet.)")
    return doc.output()
