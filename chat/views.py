"""Chat's pages: the widget's doors on the portal and help centre (``/chat/``) and the console's
queue and chat page (``/console/chat/``). Each change calls one use case, handed in by the URL conf
(``usecases``): chat never imports support."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import permissions
from knowledge import selectors as knowledge_selectors
from knowledge import services as knowledge_services
from sofacover.errors import DomainError
from sofacover.ratelimit import client_ip
from tickets.models import Ticket

from . import consumers, selectors, tokens
from .models import ChatSession

# Chats started and messages left per client address per hour (each files a ticket).
STARTS_PER_HOUR = 20


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _refused(exc: DomainError) -> JsonResponse:
    field = getattr(exc, "field", None) or "__all__"
    return JsonResponse({"errors": {field: [exc.message]}}, status=getattr(exc, "status", 400) or 400)


def _start_allowed(request: HttpRequest) -> bool:
    key = f"chat-start:{client_ip(request)}:{int(timezone.now().timestamp() // 3600)}"
    cache.add(key, 0, 3700)
    try:
        return cache.incr(key) <= STARTS_PER_HOUR
    except ValueError:
        return True


def broadcast_state(session: ChatSession) -> None:
    """Tell the chat's sockets its new state (a change made over HTTP: the console's accept)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(
            consumers.public_group(session.pk), {"type": "chat.event", "event": consumers.state_event(session)}
        )


class UseCaseView(View):
    usecases: Any = None


# --- the widget (portal, help centre) -------------------------------------------------------------------


@never_cache
def status(request: HttpRequest) -> JsonResponse:
    """Open for a live chat now, or taking messages (``selectors.opening``)."""
    opening = selectors.opening(timezone.now())
    user = _user(request)
    return JsonResponse(
        {
            "open": opening.open,
            "in_hours": opening.in_hours,
            "signed_in": user is not None and not permissions.is_agent(user),
            # The widget's POSTs carry it (the pages stay free of a per-response token).
            "csrf": get_token(request),
        }
    )


def _widget_door(request: HttpRequest, call: Any, *, too_many: str, answer: Any) -> JsonResponse:
    """The widget's doors that file a ticket from what the visitor wrote (body, and name and email when not
    signed in): the per-address limit, then the one use case ``call``; a refusal as field errors, else
    201 with ``answer(what the use case returned)``."""
    if not _start_allowed(request):
        return JsonResponse({"errors": {"__all__": [too_many]}}, status=429)
    try:
        done = call(
            body=request.POST.get("body", ""),
            visitor=_user(request),
            name=request.POST.get("name", ""),
            email=request.POST.get("email", ""),
            now=timezone.now(),
        )
    except DomainError as exc:
        return _refused(exc)
    return JsonResponse(answer(done), status=201)


class StartView(UseCaseView):
    """POST body (and name, email when not signed in): a live chat starts, or 409 when closed now."""

    def post(self, request: HttpRequest) -> JsonResponse:
        if not selectors.opening(timezone.now()).open:
            return JsonResponse(
                {"closed": True, "errors": {"__all__": [_("Live chat is closed now: leave a message.")]}}, status=409
            )
        return _widget_door(
            request,
            self.usecases.chat_start,
            too_many=_("Too many chats from here: try again later."),
            answer=lambda session: {
                "session": session.pk,
                "ticket": session.ticket.reference,
                "token": tokens.visitor_token(session_id=session.pk, visitor_id=session.visitor_id),
                "socket": f"/ws/chat/{session.pk}/",
            },
        )


class LeaveMessageView(UseCaseView):
    """POST body (and name, email when not signed in): outside hours, a ticket."""

    def post(self, request: HttpRequest) -> JsonResponse:
        return _widget_door(
            request,
            self.usecases.chat_leave_message,
            too_many=_("Too many messages from here: try again later."),
            answer=lambda ticket: {"ticket": ticket.reference},
        )


# --- the console ---------------------------------------------------------------------------------------


def _agent(request: HttpRequest) -> User:
    user = _user(request)
    if user is None or not permissions.is_agent(user):
        raise Http404
    return user


def agent_view(view: Any) -> Any:
    """The console's login, then agents only (404 for anyone else, like other console pages)."""
    return admin_site.admin_view(view)


@method_decorator(never_cache, name="dispatch")
class QueueView(UseCaseView):
    """The agent's availability, the waiting chats by arrival with their wait, and the agent's own chats."""

    def get(self, request: HttpRequest) -> HttpResponse:
        agent = _agent(request)
        now = timezone.now()
        waiting = [(chat, now - chat.arrived_at) for chat in selectors.queue()]
        context = {
            **admin_site.each_context(request),
            "title": _("Live chat"),
            "agent": agent,
            "now": now,
            "available": selectors.is_available(agent),
            "waiting": waiting,
            "mine": selectors.active_for(agent),
            "opening": selectors.opening(now),
        }
        return render(request, "chat/console_queue.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        agent = _agent(request)
        self.usecases.chat_availability(agent=agent, available=request.POST.get("available") == "1", now=timezone.now())
        return HttpResponseRedirect(reverse("chat-console:queue"))


class AcceptView(UseCaseView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = _agent(request)
        session = selectors.session_get(pk)
        if session is None:
            raise Http404
        try:
            session = self.usecases.chat_accept(session=session, agent=agent, now=timezone.now())
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("chat-console:queue"))
        broadcast_state(session)
        return HttpResponseRedirect(reverse("chat-console:chat", args=[session.pk]))


def _inserts(ticket: Ticket, request: HttpRequest) -> dict[str, list[dict[str, str]]]:
    """Canned replies (rendered for the ticket) and help-centre articles the agent may insert."""
    templates = [
        {"label": t.name, "text": knowledge_services.template_render(template=t, ticket=ticket)}
        for t in knowledge_selectors.response_template_list(category=ticket.category)[:50]
    ]
    articles = [
        {"label": a.title, "text": f"{a.title}: {request.build_absolute_uri(reverse('kb:article', args=[a.slug]))}"}
        for a in knowledge_selectors.article_list_published_to(user=AnonymousUser()).order_by("title")[:100]
    ]
    return {"templates": templates, "articles": articles}


@method_decorator(never_cache, name="dispatch")
class ChatPageView(UseCaseView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = _agent(request)
        session = selectors.session_get(pk)
        if session is None:
            raise Http404
        context = {
            **admin_site.each_context(request),
            "title": _("Chat %(ref)s") % {"ref": session.ticket.reference},
            "chat": session,
            "agent": agent,
            "others": selectors.available_agents().exclude(pk=agent.pk),
            "tiers": Ticket.Tier.choices,
            "priorities": Ticket.Priority.choices,
            "categories": Ticket.Category.choices,
            "inserts": _inserts(session.ticket, request),
            "ticket_url": reverse("admin:tickets_ticket_change", args=[session.ticket_id]),
        }
        return render(request, "chat/console_chat.html", context)
