from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from django.conf import settings

        from apps.webhooks import signals

        signals.connect()
        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            # Retries that are due (a worker died, or the retry was scheduled in eager mode).
            schedule.setdefault(
                "webhooks-retry-due", {"task": "apps.webhooks.tasks.retry_due_webhooks", "schedule": 60.0},
            )
