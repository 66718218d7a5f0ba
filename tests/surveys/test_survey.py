"""The survey on resolve: an outbox email with a signed, expiring, single-use link (AC-9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.signing import TimestampSigner

from notifications.models import Notification
from support import usecases
from surveys import services
from surveys.models import Rating, SurveyToken
from tests.tickets.factories import T0
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
D = timedelta(days=1)
BASE = "https://desk.sofacover.example"


@pytest.fixture(autouse=True)
def _desk_url(settings):
    settings.DESK_BASE_URL = BASE + "/"
    settings.SURVEY_LINK_MAX_AGE = timedelta(days=14)


def surveys(ticket: Ticket):
    return Notification.objects.filter(ticket=ticket, dedupe_key__startswith="survey:").order_by("created_at", "id")


def link_of(notification: Notification) -> str:
    line = next(line for line in notification.body.splitlines() if line.startswith(BASE))
    return line.removeprefix(BASE)


@pytest.fixture
def ticket(customer):
    return usecases.file_ticket(requester=customer, subject="Cover shrank in the wash", description="d", now=T0)


@pytest.fixture
def resolved(ticket, agent):
    usecases.resolve(ticket=ticket, actor=agent, now=T0 + H)
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def link(resolved) -> str:
    return link_of(surveys(resolved).get())


class TestSurveyOnResolve:
    def test_resolving_queues_one_email_to_the_requester(self, resolved, customer):
        mail = surveys(resolved).get()
        assert (mail.channel, mail.recipient, mail.user_id) == ("email", customer.email, customer.pk)
        assert mail.dedupe_key == f"survey:{resolved.pk}:1"
        assert mail.status == Notification.Status.PENDING
        assert resolved.reference in mail.subject

    def test_the_link_is_absolute_from_desk_base_url_never_the_request_host(self, api_client_for, ticket, agent):
        client = api_client_for(agent)
        response = client.post(f"/api/v1/tickets/{ticket.reference}/resolve/", HTTP_HOST="evil.example")
        assert response.status_code == 200
        mail = surveys(ticket).get()
        assert f"{BASE}/survey/" in mail.body
        assert f'href="{BASE}/survey/' in mail.body_html
        assert "evil.example" not in mail.body + mail.body_html

    def test_resolved_again_after_a_reopen_is_a_second_survey(self, resolved, customer, agent):
        usecases.reopen(ticket=resolved, actor=customer, now=T0 + 2 * H)
        usecases.resolve(ticket=resolved, actor=agent, now=T0 + 3 * H)
        assert [n.dedupe_key for n in surveys(resolved)] == [f"survey:{resolved.pk}:1", f"survey:{resolved.pk}:2"]

    def test_a_rated_ticket_gets_no_new_survey(self, resolved, customer, agent):
        usecases.rate(ticket=resolved, actor=customer, score=5, now=T0 + 2 * H)
        usecases.reopen(ticket=resolved, actor=customer, now=T0 + 3 * H)
        usecases.resolve(ticket=resolved, actor=agent, now=T0 + 4 * H)
        assert surveys(resolved).count() == 1

    def test_the_token_is_signed_and_carries_128_random_bits(self, resolved, link):
        token = SurveyToken.objects.get(ticket=resolved)
        assert len(token.nonce) >= 22  # token_urlsafe(16)
        assert token.nonce in link
        assert token.used_at is None


class TestSurveyLink:
    def test_get_shows_the_form_and_spends_nothing(self, client, link, resolved, time_machine):
        time_machine.move_to(T0 + D, tick=False)
        response = client.get(link)
        assert response.status_code == 200
        assert resolved.reference in response.content.decode()
        assert SurveyToken.objects.get().used_at is None

    def test_post_rates_as_the_requester_and_spends_the_link(self, client, link, resolved, time_machine):
        time_machine.move_to(T0 + D, tick=False)
        response = client.post(link, {"score": "4", "comment": "Quick, thanks"})
        assert response.status_code == 200
        rating = Rating.objects.get(ticket=resolved)
        assert (rating.score, rating.comment) == (4, "Quick, thanks")
        assert SurveyToken.objects.get().used_at is not None

    def test_reuse_is_a_clear_410(self, client, link, time_machine):
        time_machine.move_to(T0 + D, tick=False)
        client.post(link, {"score": "4"})
        again = client.post(link, {"score": "1"})
        assert again.status_code == 410
        assert "already been answered" in again.content.decode()
        assert client.get(link).status_code == 410
        assert Rating.objects.get().score == 4

    def test_expired_link_is_a_clear_410(self, client, link, time_machine):
        time_machine.move_to(T0 + H + 14 * D + timedelta(seconds=1), tick=False)
        response = client.get(link)
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert client.post(link, {"score": "5"}).status_code == 410
        assert not Rating.objects.exists()

    def test_still_valid_on_its_last_day(self, client, link, time_machine):
        time_machine.move_to(T0 + H + 14 * D, tick=False)
        assert client.get(link).status_code == 200

    def test_one_flipped_character_is_a_404_showing_no_ticket(self, client, link, resolved, time_machine):
        time_machine.move_to(T0 + D, tick=False)
        token = link.removeprefix("/survey/").rstrip("/")
        for i in (0, len(token) // 2, len(token) - 1):
            flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
            response = client.post(f"/survey/{flipped}/", {"score": "1"})
            assert response.status_code == 404, i
            assert resolved.subject not in response.content.decode()
        assert not Rating.objects.exists()

    @pytest.mark.parametrize("token", ["x", "1.abc:xyz:sig", "%20"])
    def test_garbage_is_a_404(self, client, resolved, token):
        assert client.get(f"/survey/{token}/").status_code == 404

    def test_a_validly_signed_link_never_opens_another_ticket(self, client, link, resolved, customer, time_machine):
        """Even with the desk's key, a nonce only opens the ticket it was issued for."""
        other = usecases.file_ticket(requester=customer, subject="Other", description="d", now=T0)
        nonce = SurveyToken.objects.get(ticket=resolved).nonce
        time_machine.move_to(T0 + D, tick=False)
        forged = TimestampSigner(salt=services.SURVEY_SALT, algorithm="sha256").sign(f"{other.pk}.{nonce}")
        response = client.post(f"/survey/{forged}/", {"score": "1"})
        assert response.status_code == 404
        assert not Rating.objects.exists()

    def test_a_bad_score_redisplays_the_form(self, client, link, time_machine):
        time_machine.move_to(T0 + D, tick=False)
        assert client.post(link, {"score": "9"}).status_code == 400
        assert SurveyToken.objects.get().used_at is None


class TestPortalPrompt:
    def page(self, client, user, ticket):
        client.force_login(user)
        return client.get(f"/tickets/{ticket.reference}/").content.decode()

    def test_the_requester_is_asked_on_a_resolved_ticket(self, client, customer, resolved):
        html = self.page(client, customer, resolved)
        assert 'id="rating-heading"' in html
        assert f"/tickets/{resolved.reference}/rating/" in html

    def test_no_prompt_while_the_ticket_is_open(self, client, customer, ticket):
        assert 'id="rating-heading"' not in self.page(client, customer, ticket)

    def test_no_prompt_for_the_desk(self, client, agent, resolved):
        assert 'id="rating-heading"' not in self.page(client, agent, resolved)

    def test_rating_from_the_page_and_changing_it(self, client, customer, resolved):
        client.force_login(customer)
        url = f"/tickets/{resolved.reference}/rating/"
        assert client.post(url, {"score": "2"}).status_code == 302
        assert client.post(url, {"score": "5", "comment": "Fixed after all"}).status_code == 302
        assert Rating.objects.get().score == 5
        assert "You rated this ticket 5 out of 5" in client.get(f"/tickets/{resolved.reference}/").content.decode()

    def test_after_7_days_the_page_only_thanks(self, client, customer, resolved, time_machine):
        usecases.rate(ticket=resolved, actor=customer, score=3, now=T0 + 2 * H)
        time_machine.move_to(T0 + 2 * H + 8 * D, tick=False)
        html = self.page(client, customer, resolved)
        assert "You rated this ticket 3 out of 5. Thank you." in html
        assert "Change rating" not in html

    def test_another_customer_cannot_rate(self, client, other_customer, resolved):
        client.force_login(other_customer)
        assert client.post(f"/tickets/{resolved.reference}/rating/", {"score": "1"}).status_code == 404
        assert not Rating.objects.exists()
