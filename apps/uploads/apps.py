from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "apps.uploads"
    label = "uploads"

    def ready(self) -> None:
        from django.conf import settings

        # The engine enqueues its tasks by name (it never imports them): register them here.
        from apps.uploads import tasks  # noqa: F401

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.setdefault(
                "uploads-purge",
                {"task": "apps.uploads.tasks.purge_uploads", "schedule": 15 * 60.0},
            )
            # Uploads a dead worker left PROCESSING are finalized again within about a minute
            # of UPLOAD_FINALIZE_STALE_SECONDS.
            schedule.setdefault(
                "uploads-refinalize",
                {"task": "apps.uploads.tasks.refinalize_uploads", "schedule": 60.0},
            )
