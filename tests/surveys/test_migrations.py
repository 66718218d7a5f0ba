"""Ratings and survey links moved from tickets to surveys: a database from before the move keeps its rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from support import usecases
from surveys.models import Rating, SurveyToken
from tests.tickets.factories import T0
from tickets.models import Ticket

BEFORE_THE_MOVE = ("tickets", "0006_satisfaction")


def _migrate(*targets: tuple[str, str | None]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestTheMoveFromTickets:
    def test_rows_written_before_the_move_are_read_and_written_after_it(self, customer, agent):
        rated = usecases.file_ticket(requester=customer, subject="Zip broke", description="d", now=T0)
        usecases.resolve(ticket=rated, actor=agent, now=T0 + timedelta(hours=1))
        usecases.rate(ticket=rated, actor=customer, score=4, comment="quick", now=T0 + timedelta(hours=2))
        unrated = usecases.file_ticket(requester=customer, subject="Seam torn", description="d", now=T0)
        try:
            executor = _migrate(("surveys", None))  # the schema of main before the move
            old = executor.loader.project_state([BEFORE_THE_MOVE]).apps
            assert old.get_model("tickets", "Rating").objects.get(ticket_id=rated.pk).score == 4
            assert old.get_model("tickets", "SurveyToken").objects.filter(ticket_id=rated.pk).count() == 1
            old.get_model("tickets", "SurveyToken").objects.create(ticket_id=unrated.pk, nonce="n" * 43, created_at=T0)
            assert ContentType.objects.filter(app_label="tickets", model="rating").exists()
        finally:
            _migrate()

        assert Rating.objects.get(ticket=rated).comment == "quick"
        assert SurveyToken.objects.filter(ticket=rated).count() == 1
        assert SurveyToken.objects.get(ticket=unrated).nonce == "n" * 43
        assert connection.introspection.identifier_converter("surveys_rating") in connection.introspection.table_names()
        assert {ct.app_label for ct in ContentType.objects.filter(model__in=["rating", "surveytoken"])} == {"surveys"}
        Ticket.objects.filter(pk=unrated.pk).update(status=Ticket.Status.RESOLVED, resolved_at=T0)
        _, created = usecases.rate(ticket=unrated, actor=customer, score=5, now=T0)
        assert created  # new rows get their own keys after the move
