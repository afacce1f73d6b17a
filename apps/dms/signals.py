"""Thumbnail rows go with their StoredFile (cascade, in the uploads engine's free task), which
cannot know about dms: this receiver removes their bytes too. After ``migrate``, thumbnails still
kept under a key shared across tenants are queued for a rebuild under their own key."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_migrate
from django.dispatch import receiver

from apps.dms.models import Thumbnail


@receiver(post_delete, sender=Thumbnail, dispatch_uid="dms_thumbnail_bytes")
def thumbnail_bytes_follow_row(sender: Any, instance: Thumbnail, **kwargs: Any) -> None:
    from apps.dms.services import thumbnail_bytes_delete, thumbnail_storage

    if instance.storage_key:
        # A cascade deletes thumbnails before their StoredFile row, so its storage is still known.
        thumbnail_bytes_delete(storage_key=instance.storage_key, storage=thumbnail_storage(instance))


@receiver(post_migrate, dispatch_uid="dms_thumbnails_rebuild_shared")
def thumbnails_rebuild_after_migrate(sender: Any, **kwargs: Any) -> None:
    if getattr(sender, "label", None) != "dms":
        return
    try:  # migrated back below the render records (or to zero): nothing to look at
        kwargs["apps"].get_model("dms", "ThumbnailRender")
    except (KeyError, LookupError):
        return
    from apps.dms.services import thumbnails_rebuild_shared

    thumbnails_rebuild_shared()
