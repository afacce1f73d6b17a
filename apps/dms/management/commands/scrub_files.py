"""``manage.py scrub_files``: re-hash every stored file and report those whose bytes changed."""

from __future__ import annotations

import hashlib

from django.core.management.base import BaseCommand, CommandError

from apps.uploads import stored_files

READ_PIECE = 1024 * 1024


class Command(BaseCommand):
    help = "Re-hash stored files; list any whose bytes no longer match their SHA-256 (exit 1)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ids", nargs="*", type=int, help="Only these StoredFile ids.")

    def handle(self, *args, **options) -> None:
        from apps.uploads.models import StoredFile

        queryset = StoredFile.objects.order_by("pk")
        if options.get("ids"):
            queryset = queryset.filter(pk__in=options["ids"])
        checked, bad = 0, []
        for stored_file in queryset.iterator():
            checked += 1
            problem = self._check(stored_file)
            if problem:
                bad.append(stored_file.pk)
                self.stdout.write(f"MISMATCH stored file {stored_file.pk} "
                                  f"({stored_file.storage_key}): {problem}")
        self.stdout.write(f"{checked} stored files checked, {len(bad)} mismatched.")
        if bad:
            raise CommandError(f"{len(bad)} stored file(s) do not match their SHA-256.")

    def _check(self, stored_file) -> str:
        digest = hashlib.sha256()
        size = 0
        try:
            handle = stored_files.stored_file_open(stored_file)
        except (OSError, FileNotFoundError) as exc:
            return f"unreadable ({exc.__class__.__name__})"
        except Exception as exc:  # noqa: BLE001 - a missing S3 object raises botocore errors
            return f"unreadable ({exc.__class__.__name__})"
        try:
            while piece := handle.read(READ_PIECE):
                digest.update(piece)
                size += len(piece)
        finally:
            handle.close()
        if digest.hexdigest() != stored_file.sha256:
            return f"sha256 {digest.hexdigest()} != {stored_file.sha256}"
        if size != stored_file.size:
            return f"size {size} != {stored_file.size}"
        return ""
