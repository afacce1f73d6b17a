"""Periodic housekeeping of the accounts app (Celery beat)."""

from celery import shared_task

from apps.accounts import services


@shared_task(name="accounts.purge_auth_sessions", acks_late=True)
def purge_auth_sessions() -> int:
    return services.sessions_purge()
