from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("monitors", views.MonitorViewSet, basename="monitor")

urlpatterns = [
    path("monitors/<int:pk>/events/", views.MonitorEventsView.as_view(), name="monitor-events"),
    *router.urls,
]
