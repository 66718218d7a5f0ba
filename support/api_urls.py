from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from accounts import api as account_api
from tickets.api import downloads
from tickets.api import views as ticket_views

from . import api as views

router = SimpleRouter()
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("incidents", views.IncidentViewSet, basename="incident")

messages = views.MessageViewSet.as_view({"get": "list", "post": "create"})

urlpatterns = [
    path("auth/token/", account_api.TokenView.as_view(), name="api-token"),
    re_path(rf"^tickets/(?P<reference>{ticket_views.REFERENCE_PATTERN})/messages/$", messages, name="ticket-messages"),
    re_path(
        rf"^tickets/(?P<reference>{ticket_views.REFERENCE_PATTERN})/rating/$",
        views.RatingView.as_view(),
        name="ticket-rating",
    ),
    path("attachments/<uuid:id>/", downloads.AttachmentDownloadView.as_view(), name="api-attachment"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
]
