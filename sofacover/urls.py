from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

import chat.urls
from escalation.api import SlaPolicyListView
from incidents.status_api import StatusView
from notifications import views as notification_views
from reports.urls import api_urlpatterns as reports_api
from support import health, metrics, usecases
from support.api import EscalateView
from support.mail import mailgun_inbound
from support.portal import views as support_portal
from tickets.api.views import REFERENCE_PATTERN

from .ratelimit import LOGIN

admin.site.site_header = "SofaCover Pro Support Desk"
admin.site.site_title = "SofaCover Pro agent console"
admin.site.index_title = "Agent console"
# No navigation sidebar: it built the list of every app and model for each console page (about a tenth of
# the queue's and the ticket page's time, docs/benchmarks.md); the breadcrumbs and the console home link them.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    # The console's login is a login door like the portal's: the same limiter, ahead of the admin's own URL.
    path("admin/login/", LOGIN.guard("username")(admin.site.login), name="console-login"),
    path("admin/", admin.site.urls),
    # The language switcher's POST (Django's set_language: the language cookie, then back to a page of this
    # site). Without a CSRF token: the switcher sits on every page, anonymous and cached ones too, where a token
    # would make each rendering differ; the worst a forged POST can do is switch a visitor's language.
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    # Liveness and readiness for probes and uptime monitors (public); Prometheus metrics (token or address).
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    re_path(r"^readyz/?$", health.readyz, name="readyz"),
    re_path(r"^metrics/?$", metrics.metrics, name="metrics"),
    # A reply's attachment too large for its mail: the signed link in the mail (no sign-in).
    path("mail/attachments/<str:token>/", notification_views.mail_attachment, name="mail-attachment"),
    re_path(
        rf"^api/v1/tickets/(?P<reference>{REFERENCE_PATTERN})/escalate/$",
        EscalateView.as_view(),
        name="ticket-escalate",
    ),
    path("api/v1/sla/policies/", SlaPolicyListView.as_view(), name="sla-policy-list"),
    # The public status page (no sign-in), served from its snapshot; the JSON of the same.
    path("api/v1/status/", StatusView.as_view(), name="status-api"),
    path("status/", include("support.status_urls")),
    path("api/v1/mail/inbound/mailgun/", mailgun_inbound, name="mail-inbound-mailgun"),
    path("api/v1/", include("knowledge.api.urls")),
    path("api/v1/reports/", include(reports_api)),
    path("api/v1/", include("monitors.api.urls")),
    path("api/v1/", include("support.api_urls")),
    path("reports/", include("reports.urls")),
    path("tickets/<str:reference>/escalate/", support_portal.ticket_escalate, name="portal-escalate"),
    path("kb/", include("knowledge.portal.urls")),
    # Live chat: its console pages and the widget's doors, with the use cases they call.
    path("console/chat/", include(chat.urls.console_urls(usecases))),
    path("chat/", include(chat.urls.portal_urls(usecases))),
    path("console/", include("support.console")),
    path("", include("support.portal.urls")),
]

handler400 = "sofacover.errors.bad_request"
handler404 = "sofacover.errors.not_found"
