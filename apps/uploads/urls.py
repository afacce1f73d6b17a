"""Upload dialects, each an adapter over the same engine (apps.uploads.services)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.uploads.dialects.idempiere")),
    path("", include("apps.uploads.dialects.nuxeo")),
    path("", include("apps.uploads.dialects.tus")),
]
