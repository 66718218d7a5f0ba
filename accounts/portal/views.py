"""The customer portal's account pages: sign in and out, sign up, activate, reset the password.

Thin views: parse a form, make one service call, redirect. Every mutation is a POST
with CSRF. The URLs are the portal's (support.portal.urls), under the ``portal`` names.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from sofacover import ratelimit as limits
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from sofacover.localtime import TIME_ZONE_SESSION_KEY

from .. import permissions, selectors, services
from .forms import LoginForm, PortalPasswordResetForm, PreferencesForm, SignupForm


@method_decorator(limits.LOGIN.guard("username"), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login; its get_success_url refuses ?next= to other hosts (url_has_allowed_host_and_scheme)."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        """Without a ``next``: agents, managers and admins go to the console, customers to their tickets."""
        if permissions.is_agent(self.request.user):
            return reverse("admin:index")
        return super().get_default_redirect_url()


class LogoutView(auth_views.LogoutView):
    """POST only (Django answers GET with 405)."""


class PasswordResetView(auth_views.PasswordResetView):
    """Every accepted request counts on the PASSWORD_RESET door; past the address's mail quota
    the page is the same but no further link is sent."""

    form_class = PortalPasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-done")
    extra_email_context = {"site_name": "SofaCover Pro Support"}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        limits.PASSWORD_RESET.enter(self.request, email)
        if not limits.account_mail_allowed(self.request, email):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """A valid sign-up counts on the SIGNUP door (each sends mail); a rejected form costs nothing."""
    if request.user.is_authenticated:
        return redirect("portal:ticket-list")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        limits.SIGNUP.enter(request, form.cleaned_data["email"])
        form.save(request)
        return redirect("portal:signup-done")
    return render(request, "accounts/signup.html", {"form": form})


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_done.html")


def _user_for_activation(uidb64: str, token: str) -> User | None:
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_staff=False)
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        return None
    return user if default_token_generator.check_token(user, token) else None


@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET checks the link and shows one button (mail scanners that prefetch links change nothing);
    POST activates the account and signs the customer in."""
    user = _user_for_activation(uidb64, token)
    if user is None:
        return render(request, "accounts/activation_invalid.html", status=400)
    if request.method == "GET":
        return render(request, "accounts/activation_confirm.html", {"account": user})
    user = services.user_activate(user=user)
    login(request, user, backend="accounts.auth.EmailBackend")
    messages.success(request, _("Your account is active. Welcome!"))
    return redirect("portal:ticket-list")


def time_zone_into_session(sender: object, request: HttpRequest, user: User, **kwargs: object) -> None:
    """On sign-in (Django's user_logged_in): the zone the user saved, for sofacover.localtime to read."""
    zone = selectors.preference_time_zone(user_id=user.pk)
    if zone:
        request.session[TIME_ZONE_SESSION_KEY] = zone
    else:
        request.session.pop(TIME_ZONE_SESSION_KEY, None)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The signed-in user's time zone (the language is the header's switcher)."""
    user = signed_in_user(request)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                preference = services.preference_set_time_zone(user=user, time_zone=form.cleaned_data["time_zone"])
            except DomainError as exc:
                form.add_error("time_zone", exc.message)
            else:
                time_zone_into_session(None, request, user)
                if preference.time_zone:
                    messages.success(request, _("Times are now shown in %(zone)s.") % {"zone": preference.time_zone})
                else:
                    messages.success(request, _("Times are now shown in your browser's time zone."))
                return redirect("portal:preferences")
        return render(request, "accounts/preferences.html", {"form": form}, status=400)
    form = PreferencesForm(initial={"time_zone": selectors.preference_time_zone(user_id=user.pk)})
    return render(request, "accounts/preferences.html", {"form": form})
