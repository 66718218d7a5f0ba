from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = gettext_lazy("Accounts")

    def ready(self) -> None:
        from django.core import checks

        from sofacover.ratelimit import shared_cache_check

        # The desk's doors count attempts in the cache: `check --deploy` says when it is per process.
        checks.register(shared_cache_check, checks.Tags.caches, deploy=True)

        # Django's own sign-in signal (portal and console alike): the user's saved time zone goes into the
        # session, where sofacover.localtime reads it on every request without a query.
        from django.contrib.auth.signals import user_logged_in

        from .portal.views import time_zone_into_session

        user_logged_in.connect(time_zone_into_session, dispatch_uid="accounts.time_zone_into_session")
