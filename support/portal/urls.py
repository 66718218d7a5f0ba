from django.urls import path

from accounts.portal import views as accounts
from tickets.portal import views as ticket_pages

from . import survey, views

app_name = "portal"

urlpatterns = [
    path("", ticket_pages.home, name="home"),
    # accounts
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("signup/", accounts.signup, name="signup"),
    path("signup/done/", accounts.signup_done, name="signup-done"),
    path("activate/<str:uidb64>/<str:token>/", accounts.activate, name="activate"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/done/", accounts.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password-reset/<str:uidb64>/<str:token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password-reset/complete/", accounts.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("account/preferences/", accounts.preferences, name="preferences"),
    # tickets
    path("tickets/", ticket_pages.ticket_list, name="ticket-list"),
    path("tickets/new/", views.ticket_new, name="ticket-new"),
    path("organisation/tickets/", ticket_pages.organisation_ticket_list, name="organisation-tickets"),
    path(
        "organisation/tickets/<str:reference>/",
        ticket_pages.organisation_ticket_detail,
        name="organisation-ticket",
    ),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<str:reference>/resolve/", views.ticket_resolve, name="ticket-resolve"),
    path("tickets/<str:reference>/reopen/", views.ticket_reopen, name="ticket-reopen"),
    path("attachments/<uuid:uuid>/", ticket_pages.attachment_download, name="attachment"),
    # satisfaction
    path("tickets/<str:reference>/rating/", survey.ticket_rate, name="ticket-rating"),
    path("survey/<str:token>/", survey.survey, name="survey"),
]
