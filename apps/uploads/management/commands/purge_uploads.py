from django.core.management.base import BaseCommand

from apps.uploads.purge import uploads_purge


class Command(BaseCommand):
    help = "Expire overdue upload sessions and batches, delete their chunks, free unused files."

    def handle(self, *args, **options):
        counts = uploads_purge()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
