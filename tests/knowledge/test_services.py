"""Response templates, runbooks on tickets, votes and deflection counting."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from knowledge import selectors, services
from knowledge.models import Article, ArticleVote, ResponseTemplate, SuggestionOpen
from sofacover.errors import DomainError
from tests.knowledge.factories import T0, ArticleFactory, ResponseTemplateFactory, RunbookFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


class TestResponseTemplates:
    @pytest.mark.parametrize(
        "body",
        [
            "Hello {{ customer }}",
            "{{ settings.SECRET_KEY }}",
            "{{ ticket.requester.password }}",
            "{% debug %}",
            "{% load static %}",
            "{% if status %}x{% endif %}",
            "{{ customer_name|upper }}",
            "{{ customer_name.upper }}",
        ],
    )
    def test_unknown_placeholders_tags_and_filters_are_refused_on_save(self, body):
        template = ResponseTemplate(slug="t", name="T", body=body, created_at=T0, updated_at=T0)
        with pytest.raises(ValidationError) as excinfo:
            template.full_clean()
        assert "body" in excinfo.value.message_dict
        with pytest.raises(DomainError) as domain:
            services.response_template_save(actor=None, now=T0, slug="t", name="T", body=body)
        assert domain.value.field == "body"
        assert not ResponseTemplate.objects.filter(slug="t").exists()

    def test_renders_the_placeholders_for_a_ticket(self, customer):
        ticket = TicketFactory(requester=customer, category=Ticket.Category.PAYMENT, subject="Card declined")
        template = ResponseTemplateFactory(
            body=(
                "Dear {{ customer_name }},\n\nAbout {{ ticket_reference }} ({{ ticket_subject }}): {{ service }} — "
                "{{ status }}. Expected: {{ expected_resolution }}. Next update: {{ next_update }}."
            )
        )
        text = services.template_render(template=template, ticket=ticket)
        assert text.startswith("Dear Alice,\n\n")
        assert f"About {ticket.reference} (Card declined): payments — Received; our team is triaging it." in text

    def test_values_are_plain_text_and_never_rendered_as_templates(self, customer):
        customer.first_name = "{{ settings.SECRET_KEY }} O'Brien <b>"
        customer.save()
        ticket = TicketFactory(requester=customer, subject="{% debug %}")
        template = ResponseTemplateFactory(body="{{ customer_name }} / {{ ticket_subject }}")
        assert services.template_render(template=template, ticket=ticket) == (
            "{{ settings.SECRET_KEY }} O'Brien <b> / {% debug %}"
        )

    def test_the_admin_form_refuses_an_unknown_placeholder(self, client, agent):
        client.force_login(agent)
        response = client.post(
            "/admin/knowledge/responsetemplate/add/",
            {"name": "Bad", "slug": "bad", "category": "", "active": "on", "body": "Hi {{ password }}"},
        )
        assert response.status_code == 200
        assert "Unknown placeholder" in response.content.decode()
        assert not ResponseTemplate.objects.filter(slug="bad").exists()

    def test_templates_for_a_category_come_first(self):
        ResponseTemplateFactory(slug="general", name="A general")
        ResponseTemplateFactory(slug="pay", name="Z payment", category="payment")
        ResponseTemplateFactory(slug="off", name="Off", active=False)
        assert [t.slug for t in selectors.response_template_list(category="payment")] == ["pay", "general"]


class TestRunbooks:
    def test_attach_and_tick_write_the_ticket_timeline(self, agent):
        ticket = TicketFactory(category=Ticket.Category.PAYMENT)
        runbook = RunbookFactory(title="Runbook: payments")
        attached = services.runbook_attach(ticket=ticket, article=runbook, actor=agent, now=T0)
        tick = services.runbook_step_tick(ticket_runbook=attached, step=2, actor=agent, now=T0 + timedelta(minutes=5))
        assert tick.step_text == "Verify API credentials and webhooks"
        events = list(
            ticket.events.filter(
                kind__in=[TicketEvent.Kind.RUNBOOK_ATTACHED, TicketEvent.Kind.RUNBOOK_STEP]
            ).values_list("kind", "new_value", "actor", "internal")
        )
        assert events == [
            ("runbook_attached", "Runbook: payments", agent.pk, True),
            ("runbook_step", "Ticked step 2 of Runbook: payments: Verify API credentials and webhooks", agent.pk, True),
        ]

    def test_ticking_twice_records_once_and_untick_records_again(self, agent):
        ticket = TicketFactory()
        attached = services.runbook_attach(ticket=ticket, article=RunbookFactory(), actor=agent, now=T0)
        services.runbook_step_tick(ticket_runbook=attached, step=1, actor=agent, now=T0)
        services.runbook_step_tick(ticket_runbook=attached, step=1, actor=agent, now=T0)
        assert services.runbook_step_untick(ticket_runbook=attached, step=1, actor=agent, now=T0) is True
        assert services.runbook_step_untick(ticket_runbook=attached, step=1, actor=agent, now=T0) is False
        assert ticket.events.filter(kind=TicketEvent.Kind.RUNBOOK_STEP).count() == 2
        [state] = selectors.runbook_list_attached(ticket=ticket)
        assert [(s.number, s.tick) for s in state.steps] == [(1, None), (2, None)]

    def test_refusals(self, agent, customer):
        ticket = TicketFactory()
        runbook = RunbookFactory()
        with pytest.raises(services.NotAllowed):
            services.runbook_attach(ticket=ticket, article=runbook, actor=customer, now=T0)
        attached = services.runbook_attach(ticket=ticket, article=runbook, actor=agent, now=T0)
        with pytest.raises(services.AlreadyAttached):
            services.runbook_attach(ticket=ticket, article=runbook, actor=agent, now=T0)
        with pytest.raises(DomainError, match="steps 1 to 2"):
            services.runbook_step_tick(ticket_runbook=attached, step=3, actor=agent, now=T0)
        with pytest.raises(DomainError, match="no steps"):
            services.runbook_attach(ticket=ticket, article=ArticleFactory(body="no tasks"), actor=agent, now=T0)
        with pytest.raises(services.NotPublished):
            services.runbook_attach(
                ticket=ticket, article=RunbookFactory(status=Article.Status.DRAFT), actor=agent, now=T0
            )

    def test_runbooks_for_a_category_include_the_seeded_ones_with_their_steps(self):
        [seeded] = selectors.runbook_list_for_category(category="site_performance")
        assert selectors.runbook_steps(article=seeded) == [
            "Check CDN status and cache hit rates",
            "Monitor database query performance",
            "Verify server resource utilization",
            "Check for DDoS or unusual traffic patterns",
        ]
        assert seeded.audience == "internal"
        for category in ("authentication", "payment", "database"):
            assert len(selectors.runbook_steps(article=selectors.runbook_list_for_category(category=category)[0])) == 4


class TestSeed:
    def test_a_dozen_public_faqs_are_published(self):
        faqs = Article.objects.filter(audience="public", status="published")
        assert faqs.count() >= 12
        assert all(a.revisions.count() == 1 and a.body_html for a in faqs)

    def test_the_seed_migration_is_idempotent(self):
        from importlib import import_module

        from django.apps import apps
        from django.db import connection

        seed = import_module("knowledge.migrations.0004_seed_articles")
        before = Article.objects.count()
        seed.seed(apps, SimpleNamespace(connection=connection))  # the seed only needs the connection
        assert Article.objects.count() == before


class TestVotes:
    def test_anonymous_visitors_are_keyed_by_a_hash_of_their_session(self):
        key = selectors.visitor_key(user=AnonymousUser(), session_key="abc123")
        assert key.startswith("s:")
        assert "abc123" not in key
        assert key == selectors.visitor_key(user=None, session_key="abc123")

    def test_one_vote_per_visitor_counters_follow_the_latest_answer(self):
        article = ArticleFactory()
        key = selectors.visitor_key(user=None, session_key="sess")
        _, created = services.article_vote(article=article, voter_key=key, helpful=False, now=T0)
        assert created
        _, created = services.article_vote(article=article, voter_key=key, helpful=True, now=T0, comment="ok now")
        assert not created
        article.refresh_from_db()
        assert (article.helpful_yes, article.helpful_no) == (1, 0)
        assert ArticleVote.objects.get(article=article).comment == "ok now"


class TestDeflection:
    def test_an_open_without_a_ticket_within_the_window_counts_as_deflected(self, customer, settings):
        settings.KNOWLEDGE_DEFLECTION_WINDOW_HOURS = 24
        article = ArticleFactory()
        key = selectors.visitor_key(user=customer, session_key=None)
        services.suggestion_opened(article=article, visitor_key=key, user=customer, query="zip broke", now=T0)
        day = dict(since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1))
        assert selectors.deflection_stats(**day, now=T0 + timedelta(hours=23)).pending == 1
        assert selectors.deflection_count(**day, now=T0 + timedelta(hours=23)) == 0
        assert selectors.deflection_count(**day, now=T0 + timedelta(hours=24)) == 1

    def test_filing_a_ticket_within_the_window_is_not_a_deflection(self, customer):
        article = ArticleFactory()
        key = selectors.visitor_key(user=customer, session_key=None)
        services.suggestion_opened(article=article, visitor_key=key, user=customer, query="zip", now=T0)
        ticket = TicketFactory(requester=customer, created_at=T0 + timedelta(hours=2))
        opened = SuggestionOpen.objects.get()
        assert (opened.ticket, opened.ticket_filed_at) == (ticket, T0 + timedelta(hours=2))
        stats = selectors.deflection_stats(since=T0, until=T0 + timedelta(days=1), now=T0 + timedelta(days=3))
        assert (stats.opened, stats.filed, stats.deflected, stats.rate) == (1, 1, 0, 0.0)

    def test_a_ticket_after_the_window_does_not_undo_the_deflection(self, customer):
        article = ArticleFactory()
        key = selectors.visitor_key(user=customer, session_key=None)
        services.suggestion_opened(article=article, visitor_key=key, user=customer, now=T0)
        TicketFactory(requester=customer, created_at=T0 + timedelta(hours=25))
        assert selectors.deflection_count(since=T0, until=T0 + timedelta(days=1), now=T0 + timedelta(days=2)) == 1

    def test_the_portal_can_link_an_anonymous_session_key_too(self, customer):
        article = ArticleFactory()
        anon = selectors.visitor_key(user=None, session_key="before-login")
        services.suggestion_opened(article=article, visitor_key=anon, now=T0)
        ticket = TicketFactory(requester=customer, created_at=T0 + timedelta(hours=1))
        assert services.suggestion_ticket_filed(ticket=ticket, now=T0 + timedelta(hours=1), visitor_keys=[anon]) == 1
