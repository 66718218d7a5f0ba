"""The public status page under /status/: the page and feed (incidents' doors, reading the snapshot) and
the email subscription (support's doors, running use cases). No sign-in anywhere."""

from django.urls import path

from incidents import status_views as page
from support.portal import status as subscription

app_name = "status"

urlpatterns = [
    path("", page.status_page_view, name="page"),
    path("feed.atom", page.status_feed, name="feed"),
    path("subscribe/", subscription.subscribe, name="subscribe"),
    path("subscribe/done/", subscription.subscribe_done, name="subscribe-done"),
    path("confirm/<uuid:token>/", subscription.confirm, name="confirm"),
    path("unsubscribe/<uuid:token>/", subscription.unsubscribe, name="unsubscribe"),
]
