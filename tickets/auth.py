"""Users sign in with their email address, which is also their username."""

from django.contrib.auth.backends import ModelBackend

from sofacover import ratelimit


def normalise_email(email: str) -> str:
    return email.strip().lower()


class EmailBackend(ModelBackend):
    """Every password check of every login door (portal, console, API token) passes here, so
    here the login limits are kept: a wrong password counts one failure per client address and
    per (client address, account); once either is spent no password is checked at all. Doors
    answer 429 before they get here (ratelimit.LOGIN.check); this is the backstop."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        if username is None or password is None:
            return None
        account = normalise_email(username)
        if request is not None and ratelimit.LOGIN.refuses(request, account):
            return None
        user = super().authenticate(request, username=account, password=password, **kwargs)
        if user is None and request is not None:
            ratelimit.LOGIN.count(request, account)
        return user
