"""Thumbnail rows go with their StoredFile (cascade, in the uploads engine's free task), which
cannot know about dms: this receiver removes their bytes too."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.dms.models import Thumbnail


@receiver(post_delete, sender=Thumbnail, dispatch_uid="dms_thumbnail_bytes")
def thumbnail_bytes_follow_row(sender: Any, instance: Thumbnail, **kwargs: Any) -> None:
    from apps.dms.services import thumbnail_bytes_delete, thumbnail_storage

    if instance.storage_key:
        # A cascade deletes thumbnails before their StoredFile row, so its storage is still known.
        thumbnail_bytes_delete(storage_key=instance.storage_key, storage=thumbnail_storage(instance))
