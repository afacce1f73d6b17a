from django.apps import AppConfig


class DmsConfig(AppConfig):
    name = "apps.dms"
    label = "dms"
    verbose_name = "Documents"

    def ready(self) -> None:
        from apps.dms import engine, services, signals  # noqa: F401 - connects the receivers

        engine.completion_hook_register(services.upload_completed)
