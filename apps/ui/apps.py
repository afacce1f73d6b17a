from django.apps import AppConfig


class UiConfig(AppConfig):
    """The web UI for people (/ui/): server-rendered pages over the apps' services and selectors."""

    name = "apps.ui"
    label = "ui"
    verbose_name = "Web UI"
