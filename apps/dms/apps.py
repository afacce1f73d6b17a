from django.apps import AppConfig


class DmsConfig(AppConfig):
    name = "apps.dms"
    label = "dms"
    verbose_name = "Documents"

    def ready(self) -> None:
        from apps.dms import services, signals  # noqa: F401 - connects the receivers
        from apps.uploads import finalize as upload_finalize

        upload_finalize.register_completion_hook(services.upload_completed)
