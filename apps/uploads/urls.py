"""Upload dialects, each an adapter over the same engine (apps.uploads.services)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.uploads.dialects.idempiere")),
    # Before the batch routes: "upload/handlers" and "upload/new/..." are not batch ids.
    path("", include("apps.uploads.dialects.nuxeo_handlers")),
    path("", include("apps.uploads.dialects.nuxeo")),
    path("", include("apps.uploads.dialects.tus")),
    path("", include("apps.uploads.dialects.s3direct")),
]
