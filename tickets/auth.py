"""Users sign in with their email address, which is also their username."""

from django.contrib.auth.backends import ModelBackend


def normalise_email(email: str) -> str:
    return email.strip().lower()


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        if username is None:
            return None
        return super().authenticate(request, username=normalise_email(username), password=password, **kwargs)
