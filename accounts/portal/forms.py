"""Portal forms for accounts: they parse and validate input; the services decide what happens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template import loader
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from sofacover import ratelimit

from .. import services
from ..auth import normalise_email


class LoginForm(AuthenticationForm):
    """Sign in with the email address; the error never says whether the account exists."""

    username = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That email address and password do not match an active account."),
    }


class PortalPasswordResetForm(PasswordResetForm):
    email = forms.EmailField(
        label=_("Email address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class SignupForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"), max_length=150, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    name = forms.CharField(label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "password" in cleaned and "email" in cleaned:
            candidate = User(username=cleaned["email"], email=cleaned["email"], first_name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(cleaned["password"], candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

    def save(self, request: HttpRequest) -> User:
        """Create the inactive account (or find the existing one) and send the matching email.

        Both paths do the same work, so the answer and its timing say nothing about the address:
        the service hashes the password either way, and one email goes out through _send (none
        once the address's mail quota is spent, on either path).
        """
        user, created = services.customer_sign_up(
            email=self.cleaned_data["email"],
            password=self.cleaned_data["password"],
            name=self.cleaned_data["name"],
        )
        if not ratelimit.account_mail_allowed(request, user.email):
            return user
        if created or (not user.is_active and not user.is_staff):
            send_activation_email(request, user)
        else:
            send_account_exists_email(request, user)
        return user


def _send(request: HttpRequest, *, to: str, subject_template: str, body_template: str, context: dict) -> None:
    context = {"site_name": "SofaCover Pro Support", **context}
    subject = "".join(loader.render_to_string(subject_template, context, request).splitlines())
    body = loader.render_to_string(body_template, context, request)
    EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()


def activation_url(request: HttpRequest, user: User) -> str:
    path = reverse(
        "portal:activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


def send_activation_email(request: HttpRequest, user: User) -> None:
    _send(
        request,
        to=user.email,
        subject_template="accounts/activation_subject.txt",
        body_template="accounts/activation_email.txt",
        context={"user": user, "activation_url": activation_url(request, user)},
    )


def send_account_exists_email(request: HttpRequest, user: User) -> None:
    _send(
        request,
        to=user.email,
        subject_template="accounts/account_exists_subject.txt",
        body_template="accounts/account_exists_email.txt",
        context={
            "user": user,
            "login_url": request.build_absolute_uri(reverse("portal:login")),
            "reset_url": request.build_absolute_uri(reverse("portal:password-reset")),
        },
    )


def time_zone_choices() -> list[tuple[str, Any]]:
    from sofacover.localtime import zone_names

    zones = sorted(name for name in zone_names() if "/" in name and not name.startswith(("Etc/", "SystemV/")))
    return [("", _("My browser's time zone")), *((name, name.replace("_", " ")) for name in zones)]


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Every time on the desk is shown in this zone."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()  # type: ignore[attr-defined]
