from django.apps import AppConfig
from django.conf import settings

PURGE_BEAT_KEY = "accounts-purge-auth-sessions"
PURGE_INTERVAL_SECONDS = 3600.0


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        from apps.accounts import schema  # noqa: F401 - registers the OpenAPI auth extensions

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.setdefault(
                PURGE_BEAT_KEY,
                {"task": "accounts.purge_auth_sessions", "schedule": PURGE_INTERVAL_SECONDS},
            )
