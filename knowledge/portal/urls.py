"""The help centre under /kb/. Fixed paths come before ``<slug>`` (the core reserves their names as slugs)."""

from django.urls import path

from . import views

app_name = "kb"

urlpatterns = [
    path("", views.kb_home, name="home"),
    path("search/", views.kb_search, name="search"),
    path("suggest/", views.kb_suggest, name="suggest"),
    path("category/<str:category>/", views.kb_category, name="category"),
    path("<slug:slug>/", views.kb_article, name="article"),
    path("<slug:slug>/vote/", views.kb_vote, name="vote"),
    path("<slug:slug>/open/", views.kb_suggestion_open, name="suggestion-open"),
]
