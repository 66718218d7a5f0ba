"""``manage.py run_escalations``: one sweep now or as of --at, printing what it did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from escalation.models import Escalation, SlaBreach, SweepRun
from support import usecases
from tests.tickets.factories import make_user
from tickets.models import Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_escalations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def p0(customer) -> Ticket:
    return usecases.file_ticket(requester=customer, subject="Checkout down", description="500s", priority="P0", now=T0)


class TestRunEscalations:
    def test_escalates_as_of_the_given_moment_and_prints_each_escalation_and_breach(self, p0):
        out = run("--at", "2026-03-02T09:31:00+00:00")

        escalation = Escalation.objects.get(ticket=p0)
        assert (escalation.from_tier, escalation.to_tier, escalation.at) == (1, 2, T0 + timedelta(minutes=31))
        assert "SLA sweep as of 2026-03-02T09:31:00+00:00: examined 1, escalated 1, breaches 1" in out
        assert f"escalated {p0.reference} from Tier 1 to Tier 2 (P0 to Tier 2 after 30 min)" in out
        assert f"breach {p0.reference}: first response was due at 2026-03-02T09:15:00+00:00" in out
        # Filed in Tier 1, the tier clock is the first-response clock: one breach, not two.
        assert f"breach {p0.reference}: tier response" not in out
        assert SlaBreach.objects.filter(ticket=p0).count() == 1

    def test_does_nothing_a_second_before_the_rule_is_due(self, p0):
        out = run("--at", "2026-03-02T09:29:59+00:00")

        assert not Escalation.objects.filter(ticket=p0).exists()
        assert "escalated 0" in out
        assert "escalated SCP" not in out

    def test_a_second_run_at_the_same_moment_changes_nothing(self, p0):
        run("--at", "2026-03-02T09:31:00Z")
        out = run("--at", "2026-03-02T09:31:00Z")

        assert Escalation.objects.filter(ticket=p0).count() == 1
        assert SlaBreach.objects.filter(ticket=p0).count() == 1
        assert "examined 0, escalated 0, breaches 0" in out
        assert "escalated SCP" not in out
        assert "breach SCP" not in out

    def test_accepts_other_offsets_for_the_same_moment(self, p0):
        out = run("--at", "2026-03-02T10:31:00+01:00")

        assert Escalation.objects.get(ticket=p0).at == T0 + timedelta(minutes=31)
        assert "as of 2026-03-02T10:31:00+01:00" in out

    def test_without_at_sweeps_now_and_stamps_the_heartbeat(self, p0):
        with time_machine.travel(T0 + timedelta(hours=5), tick=False):
            out = run()

        assert SweepRun.objects.get().last_finished_at == T0 + timedelta(hours=5)
        assert "P0 unresolved after 4 h to management" in out
        assert Escalation.objects.filter(ticket=p0).count() == 2
        assert "Note:" not in out

    def test_with_at_warns_that_the_heartbeat_carries_that_moment(self, p0):
        assert "Note: the sweep's heartbeat" in run("--at", "2026-03-02T09:31:00Z")

    def test_prints_management_escalations_as_such(self, p0, manager):
        out = run("--at", "2026-03-02T13:01:00Z")

        assert f"escalated {p0.reference} from Tier 2 to management (P0 unresolved after 4 h to management)" in out

    def test_a_ticket_answered_and_resolved_in_time_is_left_alone(self, p0, agent):
        usecases.reply(ticket=p0, author=agent, body="Fixed.", now=T0 + timedelta(minutes=5))
        usecases.resolve(ticket=p0, actor=agent, now=T0 + timedelta(minutes=10), resolution_note="Fixed.")
        make_user("other@example.com")

        out = run("--at", "2026-03-02T14:00:00Z")

        assert not Escalation.objects.exists()
        assert not SlaBreach.objects.exists()
        assert "escalated 0, breaches 0" in out

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("yesterday", "is not an ISO 8601 date and time"),
            ("2026-03-02 25:00", "is not an ISO 8601 date and time"),
            ("", "is not an ISO 8601 date and time"),
            ("2026-03-02T09:31:00", "has no UTC offset"),
            ("2026-03-02", "has no UTC offset"),
        ],
    )
    def test_refuses_a_moment_it_cannot_read_without_sweeping(self, value, message):
        with pytest.raises(CommandError, match=message):
            run("--at", value)

        assert not SweepRun.objects.exists()
