"""Knowledge factories: articles are made through the services, so rendering, revisions and the index are real."""

from __future__ import annotations

from datetime import UTC, datetime

import factory

from knowledge import services
from knowledge.models import Article, ResponseTemplate
from tests.factories import ModelFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class ArticleFactory(ModelFactory[Article]):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Test article {n}")
    body = "Plain body text about sofa covers."
    audience = Article.Audience.PUBLIC
    category = Article.Category.OTHER
    status = Article.Status.PUBLISHED
    tags: list[str] = []
    slug = ""
    author = None
    created_at = T0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        now = kwargs.pop("created_at")
        return services.article_create(actor=kwargs.pop("author"), now=now, **kwargs)


class RunbookFactory(ArticleFactory):
    title = factory.Sequence(lambda n: f"Runbook {n}")
    audience = Article.Audience.INTERNAL
    category = Article.Category.PAYMENT
    body = "## Steps\n\n- [ ] Check payment gateway status\n- [ ] Verify API credentials and webhooks\n"


class ResponseTemplateFactory(ModelFactory[ResponseTemplate]):
    class Meta:
        model = ResponseTemplate

    slug = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Template {n}")
    body = "Dear {{ customer_name }},\n\nWe are looking into {{ ticket_reference }}."
    category = ""
    active = True
    created_at = T0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        now = kwargs.pop("created_at")
        return services.response_template_save(actor=None, now=now, **kwargs)
