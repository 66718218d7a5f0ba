from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.core import checks

        from sofacover.ratelimit import shared_cache_check

        # The desk's doors count attempts in the cache: `check --deploy` says when it is per process.
        checks.register(shared_cache_check, checks.Tags.caches, deploy=True)
