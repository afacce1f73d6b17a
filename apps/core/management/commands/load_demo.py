"""``manage.py load_demo``: the demo data of DESIGN §9, idempotent.

Each app that has demo data provides ``apps/<app>/demo.py`` with ``load(log)``; they run in
INSTALLED_APPS order (accounts first, then records, erp, workflow, uploads, dms) in one transaction.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Load (or refresh) the demo clients, users, business data and documents. Idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            for config in apps.get_app_configs():
                module_name = f"{config.name}.demo"
                if not config.name.startswith("apps.") or find_spec(module_name) is None:
                    continue
                import_module(module_name).load(self.stdout.write)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
