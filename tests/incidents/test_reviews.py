"""Post-incident reviews: the procedures' items and their due times, edits on the timeline, overdue
alerts once each, the document (markdown, sanitised) and its exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from incidents import review_pdf, reviews
from incidents.models import Incident, IncidentEvent, Review, ReviewItem
from notifications.models import Notification
from sofacover.errors import Conflict, DomainError
from support import tasks, usecases
from tests.knowledge.factories import RunbookFactory
from tests.knowledge.xss_corpus import VECTORS, assert_inert

pytestmark = pytest.mark.django_db

# Tuesday 1 December 2026, 10:00 UTC (GMT in London: no offset).
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RESOLUTION = {
    "what_happened": "A release broke card payments.",
    "resolution": "Rolled back release 42.",
    "prevention": "A payment smoke test before each release.",
}
Phase = ReviewItem.Phase


def declare(by, *, severity="P0", at=NOW - timedelta(hours=1), **fields) -> Incident:
    values = {
        "title": "Checkout fails",
        "impact": "Card payments fail (about 1,200 users)",
        "users_affected": 1200,
        "started_at": at - timedelta(minutes=6),
        "detected_at": at - timedelta(minutes=2),
        "war_room": "https://meet.example.com/checkout",
        **fields,
    }
    return usecases.declare_incident(declared_by=by, now=at, severity=severity, **values)


def resolve(incident: Incident, by, *, at=NOW) -> Incident:
    return usecases.resolve_incident(incident=incident, by=by, now=at, **RESOLUTION)


def resolved(by, *, severity="P0", at=NOW) -> Incident:
    return resolve(declare(by, severity=severity, at=at - timedelta(hours=1)), by, at=at)


def due_by_phase(review: Review) -> dict[str, set[datetime]]:
    found: dict[str, set[datetime]] = {}
    for item in review.items.all():
        found.setdefault(item.phase, set()).add(item.due_at)
    return found


class TestOpening:
    def test_resolving_a_p0_opens_the_review_with_the_procedures_twelve_items(self, agent):
        incident = resolved(agent)

        review = Review.objects.get(incident=incident)
        items = list(review.items.order_by("position"))
        assert [(i.phase, i.title) for i in items] == list(reviews.PROCEDURE)
        assert len(items) == 12
        assert [i.title.split(":")[0] for i in items] == [
            "Customer communication",
            "Internal debrief",
            "Monitoring",
            "Documentation",
            "Root cause analysis",
            "Post-mortem meeting",
            "Action items",
            "Process updates",
            "System improvements",
            "Monitoring enhancements",
            "Documentation updates",
            "Team training",
        ]
        assert {i.owner for i in items} == {agent}  # the commander (whoever declared)
        assert review.opened_at == NOW
        event = incident.events.get(kind=IncidentEvent.Kind.REVIEW)
        assert "12 action items" in event.body
        assert not event.public

    @pytest.mark.parametrize("severity", ["P0", "P1"])
    def test_p0_and_p1_items_are_due_2_h_48_h_and_1_week_after_resolution_round_the_clock(self, agent, severity):
        review = resolved(agent, severity=severity).review
        assert due_by_phase(review) == {
            Phase.IMMEDIATE: {NOW + timedelta(hours=2)},
            Phase.FOLLOW_UP: {NOW + timedelta(hours=48)},
            Phase.LONG_TERM: {NOW + timedelta(weeks=1)},
        }

    def test_a_p0_resolved_on_saturday_night_is_still_due_2_h_later(self, agent):
        saturday_night = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
        review = resolved(agent, at=saturday_night).review
        assert due_by_phase(review)[Phase.IMMEDIATE] == {datetime(2026, 12, 6, 1, 30, tzinfo=UTC)}

    def test_p2_and_p3_are_not_opened_on_resolution_but_by_choice(self, agent):
        incident = resolved(agent, severity="P2")
        assert not Review.objects.filter(incident=incident).exists()

        review = usecases.open_review(incident=incident, by=agent, now=NOW + timedelta(minutes=5))

        assert review.items.count() == 12
        assert review.opened_at == NOW + timedelta(minutes=5)

    def test_p2_items_are_due_on_business_hours_friday_1730_to_monday_tuesday_friday(self, agent):
        friday_1730 = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # GMT: London time is UTC
        incident = resolved(agent, severity="P2", at=friday_1730)

        review = usecases.open_review(incident=incident, by=agent, now=friday_1730 + timedelta(hours=1))

        # 2 business hours: 30 min on Friday, 90 min on Monday; 2 business days: Tuesday 17:30;
        # 5 business days (a week): the next Friday 17:30. Counted from the resolution, not the opening.
        assert due_by_phase(review) == {
            Phase.IMMEDIATE: {datetime(2026, 12, 7, 10, 30, tzinfo=UTC)},
            Phase.FOLLOW_UP: {datetime(2026, 12, 8, 17, 30, tzinfo=UTC)},
            Phase.LONG_TERM: {datetime(2026, 12, 11, 17, 30, tzinfo=UTC)},
        }

    def test_p3_business_hours_follow_london_summer_time(self, agent):
        # Wednesday 1 July 2026 16:00 UTC is 17:00 BST: one business hour left that day.
        at = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
        incident = resolved(agent, severity="P3", at=at)
        review = usecases.open_review(incident=incident, by=agent, now=at)
        # The second hour is Thursday 09:00-10:00 BST, 08:00-09:00 UTC.
        assert due_by_phase(review)[Phase.IMMEDIATE] == {datetime(2026, 7, 2, 9, 0, tzinfo=UTC)}

    def test_opening_twice_returns_the_same_review(self, agent):
        incident = resolved(agent)
        first = incident.review

        again = usecases.open_review(incident=incident, by=agent, now=NOW + timedelta(hours=1))

        assert again.pk == first.pk
        assert ReviewItem.objects.filter(review__incident=incident).count() == 12
        assert incident.events.filter(kind=IncidentEvent.Kind.REVIEW).count() == 1

    def test_an_open_incident_has_no_review_yet(self, agent):
        incident = declare(agent, severity="P2")
        with pytest.raises(Conflict) as refused:
            usecases.open_review(incident=incident, by=agent, now=NOW)
        assert refused.value.field == "status"
        assert not Review.objects.exists()

    def test_without_a_commander_the_opener_owns_the_items(self, agent, manager, customer):
        incident = declare(customer, severity="P3")  # a customer declares nothing in practice; no commander
        assert incident.commander is None
        resolve(incident, agent)
        review = usecases.open_review(incident=incident, by=manager, now=NOW)
        assert {i.owner for i in review.items.all()} == {manager}


@pytest.fixture
def review(agent) -> Review:
    return resolved(agent).review


def item(review: Review, phase: str = Phase.IMMEDIATE, n: int = 0) -> ReviewItem:
    return list(review.items.filter(phase=phase).order_by("position"))[n]


class TestEdits:
    def test_each_edit_is_on_the_incident_timeline(self, review, manager, tier2_agent):
        first = item(review)
        later = NOW + timedelta(minutes=30)
        article = RunbookFactory(title="Checkout runbook", slug="checkout-runbook")

        reviews.item_update(
            item=first,
            by=manager,
            now=later,
            owner=tier2_agent,
            notes="Sent to 1,200 customers.",
            done=True,
            articles=[article],
        )

        first.refresh_from_db()
        assert first.owner == tier2_agent
        assert first.done_at == later
        assert list(first.articles.all()) == [article]
        event = review.incident.events.filter(kind=IncidentEvent.Kind.REVIEW).last()
        assert event.author == manager
        assert event.at == later
        assert "owner tier1@sofacoverpro.com → tier2@sofacoverpro.com" in event.body
        assert "notes edited" in event.body
        assert "done" in event.body
        assert "articles: checkout-runbook" in event.body

    def test_an_edit_that_changes_nothing_writes_nothing(self, review, manager, agent):
        before = review.incident.events.count()
        reviews.item_update(item=item(review), by=manager, now=NOW, owner=agent, done=False, notes="")
        assert review.incident.events.count() == before

    def test_the_owner_must_work_for_the_desk(self, review, manager, customer):
        with pytest.raises(DomainError) as refused:
            reviews.item_update(item=item(review), by=manager, now=NOW, owner=customer)
        assert refused.value.field == "owner"

    def test_a_due_time_before_the_resolution_is_refused(self, review, manager):
        with pytest.raises(DomainError) as refused:
            reviews.item_update(item=item(review), by=manager, now=NOW, due_at=NOW - timedelta(minutes=1))
        assert refused.value.field == "due_at"

    def test_unknown_fields_are_refused(self, review, manager):
        with pytest.raises(DomainError):
            reviews.item_update(item=item(review), by=manager, now=NOW, title="Something else")

    def test_the_review_completes_when_every_item_is_done_and_reopens_when_one_is_undone(self, review, manager):
        items = list(review.items.all())
        for n, each in enumerate(items):
            reviews.item_update(item=each, by=manager, now=NOW + timedelta(minutes=n), done=True)
        review.refresh_from_db()
        assert review.completed_at == NOW + timedelta(minutes=11)

        reviews.item_update(item=items[0], by=manager, now=NOW + timedelta(hours=1), done=False)
        review.refresh_from_db()
        assert review.completed_at is None
        bodies = list(review.incident.events.filter(kind=IncidentEvent.Kind.REVIEW).values_list("body", flat=True))
        assert any("review completed" in b for b in bodies)
        assert any("review reopened" in b for b in bodies)

    def test_the_document_edit_is_on_the_timeline(self, review, manager):
        review = reviews.document_edit(review=review, document="## Root cause\r\nA bad deploy.", by=manager, now=NOW)
        review.refresh_from_db()
        assert review.document == "## Root cause\nA bad deploy."
        assert review.incident.events.filter(kind=IncidentEvent.Kind.REVIEW, body="Review document edited.").exists()

    def test_a_document_too_long_is_refused(self, review, manager):
        with pytest.raises(DomainError) as refused:
            reviews.document_edit(review=review, document="x" * 100_001, by=manager, now=NOW)
        assert refused.value.field == "document"


def overdue_alerts(**filters):
    return Notification.objects.filter(kind=Notification.Kind.REVIEW_OVERDUE, **filters)


class TestOverdue:
    def test_nothing_is_overdue_at_the_due_time_itself(self, review):
        assert usecases.review_sweep(now=NOW + timedelta(hours=2)) == 0
        assert not overdue_alerts().exists()

    def test_an_item_past_due_alerts_its_owner_and_the_commander_on_dashboard_and_email_once(
        self, review, agent, tier2_agent, manager
    ):
        reviews.item_update(item=item(review), by=manager, now=NOW, owner=tier2_agent)
        after = NOW + timedelta(hours=2, seconds=1)

        assert usecases.review_sweep(now=after) == 4  # the four immediate items
        assert usecases.review_sweep(now=after + timedelta(minutes=1)) == 0

        alerts = overdue_alerts()
        # Three items owned by the commander (agent): 2 rows each; the reassigned one: owner and commander, 4 rows.
        assert alerts.count() == 3 * 2 + 4
        assert set(alerts.values_list("channel", flat=True)) == {"dashboard", "email"}
        reassigned = alerts.filter(subject__contains=item(review).title)
        assert set(reassigned.values_list("recipient", "channel")) == {
            ("tier1@sofacoverpro.com", "dashboard"),
            ("tier1@sofacoverpro.com", "email"),
            ("tier2@sofacoverpro.com", "dashboard"),
            ("tier2@sofacoverpro.com", "email"),
        }
        mail = reassigned.get(channel="email", recipient="tier2@sofacoverpro.com")
        assert review.incident.reference in mail.subject
        assert f"/admin/incidents/review/{review.pk}/change/" in mail.body
        assert "Tue 1 Dec 2026, 12:00 GMT" in mail.body
        assert ReviewItem.objects.filter(overdue_alerted_at=after).count() == 4

    def test_a_done_item_is_never_overdue(self, review, manager):
        for each in review.items.filter(phase=Phase.IMMEDIATE):
            reviews.item_update(item=each, by=manager, now=NOW + timedelta(hours=1), done=True)
        assert usecases.review_sweep(now=NOW + timedelta(hours=3)) == 0

    def test_a_new_due_time_is_watched_again(self, review, manager):
        first = item(review)
        usecases.review_sweep(now=NOW + timedelta(hours=3))
        assert overdue_alerts(subject__contains=first.title).count() == 2

        reviews.item_update(item=first, by=manager, now=NOW + timedelta(hours=3), due_at=NOW + timedelta(hours=4))
        assert usecases.review_sweep(now=NOW + timedelta(hours=3, minutes=30)) == 0
        assert usecases.review_sweep(now=NOW + timedelta(hours=5)) == 1
        assert overdue_alerts(subject__contains=first.title).count() == 4

    def test_no_owner_and_no_commander_alerts_the_managers(self, review, manager):
        incident = review.incident
        Incident.objects.filter(pk=incident.pk).update(commander=None)
        reviews.item_update(item=item(review), by=manager, now=NOW, owner=None)
        usecases.review_sweep(now=NOW + timedelta(hours=3))
        assert set(overdue_alerts(subject__contains=item(review).title).values_list("recipient", flat=True)) == {
            manager.email
        }

    def test_the_sweep_works_in_batches(self, agent, manager):
        for n in range(3):
            resolved(agent, at=NOW + timedelta(minutes=n))
        assert usecases.review_sweep(now=NOW + timedelta(hours=3), limit=5) == 12
        assert not reviews.overdue_items(NOW + timedelta(hours=3)).exists()

    def test_the_beat_runs_the_review_sweep_every_minute(self, settings):
        entry = settings.CELERY_BEAT_SCHEDULE["review-sweep"]
        assert entry["task"] == "support.tasks.review_sweep"
        assert entry["schedule"] == 60
        assert tasks.review_sweep.name == entry["task"]

    def test_the_beat_task_reads_the_clock_and_alerts(self, review, time_machine):
        time_machine.move_to(NOW + timedelta(hours=2, minutes=1), tick=False)
        assert tasks.review_sweep.apply().get() == 4
        assert tasks.review_sweep.apply().get() == 0
        assert overdue_alerts().count() == 8


class TestDocument:
    def test_the_markdown_has_the_summary_the_timeline_the_items_and_the_document(self, review, manager):
        reviews.item_update(item=item(review), by=manager, now=NOW + timedelta(minutes=10), done=True)
        review = reviews.document_edit(review=review, document="## Root cause\n\nRelease 42.", by=manager, now=NOW)

        text = reviews.review_markdown(review, now=NOW + timedelta(hours=3))

        incident = review.incident
        assert text.startswith(f"# Post-incident review: {incident.reference} Checkout fails")
        assert "- **MTTD (detected - started):** 4 min" in text
        assert "- **MTTR (resolved - started):** 1 h 06 min" in text
        assert "- **Resolution:** Rolled back release 42." in text
        timeline = text.split("## Timeline")[1].split("## Action items")[0]
        lines = [line for line in timeline.splitlines() if line.startswith("- ")]
        assert lines[0].startswith("- **Tue 1 Dec 2026, 09:00 GMT** — Declared by tier1@sofacoverpro.com (public)")
        assert any("— Resolved by" in line for line in lines)
        assert any("Post-incident review opened" in line for line in lines)
        assert "### Within 2 hours" in text
        assert "| Customer communication: notify affected customers | tier1@sofacoverpro.com |" in text
        assert "| OVERDUE |" in text  # the other immediate items, 3 h after the resolution
        assert text.rstrip().endswith("## Root cause\n\nRelease 42.")

    def test_the_rendered_document_is_sanitised(self, review, manager):
        document = (
            "Fine **text**.\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>[a](javascript:alert(1))"
        )
        review = reviews.document_edit(review=review, document=document, by=manager, now=NOW)

        html = reviews.render_document(review)

        assert "<strong>text</strong>" in html
        assert "<script" not in html
        assert "alert('x')" not in html  # the script's content goes with it
        assert "onerror" not in html
        assert "javascript:" not in html
        assert_inert(html, source=document)

    def test_every_known_xss_vector_is_inert_in_the_document(self, review, manager):
        review = reviews.document_edit(review=review, document="\n\n".join(VECTORS), by=manager, now=NOW)
        assert_inert(reviews.render_document(review), source="the XSS corpus")

    def test_the_pdf_parses_and_carries_the_title_timeline_and_items(self, review, manager):
        review = reviews.document_edit(review=review, document="## Root cause\n\nRelease 42.", by=manager, now=NOW)

        pdf = review_pdf.review_pdf(review, now=NOW)

        reader = PdfReader(io.BytesIO(pdf))
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert f"Post-incident review: {review.incident.reference} Checkout fails" in text
        assert reader.metadata is not None
        assert reader.metadata.title == f"Post-incident review: {review.incident.reference} Checkout fails"
        assert "Timeline" in text
        assert "Root cause analysis: detailed investigation" in text
        assert "Release 42." in text

    @pytest.mark.parametrize("font_dir", [review_pdf.FONT_DIR, None], ids=["dejavu", "core-font"])
    def test_odd_characters_never_break_the_pdf(self, agent, manager, font_dir):
        odd = "\U0001f6a8 Ümlaut 漢字 \u200b zero-width, \x07bell, RTL \u202e, tab\t, — “quotes”"
        incident = resolve(declare(agent, title=f"Checkout {odd}"[:200], impact=odd), agent)
        review = reviews.document_edit(review=incident.review, document=f"# {odd}\n\n{'x' * 3000}", by=manager, now=NOW)
        reviews.item_update(item=item(review), by=manager, now=NOW, notes=odd)

        pdf = review_pdf.review_pdf(review, now=NOW, font_dir=font_dir)

        text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert "Checkout" in text
        assert ("Ümlaut" in text) if font_dir else ("mlaut" in text)

    def test_the_pdf_holds_no_script_from_the_document(self, review, manager):
        document = "Before.\n\n<script>stealCookies()</script>\n\nAfter."
        review = reviews.document_edit(review=review, document=document, by=manager, now=NOW)
        pdf = review_pdf.review_pdf(review, now=NOW)
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert "Before." in text
        assert "After." in text
        assert "stealCookies" not in text

    def test_the_summary_reads_a_fixed_number_of_queries(self, review, manager, django_assert_num_queries):
        for each in review.items.all()[:6]:
            reviews.item_update(item=each, by=manager, now=NOW, notes="note")
        with django_assert_num_queries(5):
            reviews.review_summary(review, now=NOW)
