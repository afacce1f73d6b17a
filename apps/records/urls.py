from django.urls import path, re_path

from apps.records import api

TABLE = r"(?P<table>[A-Za-z][A-Za-z0-9_]{0,59})"
RECORD = r"(?P<record>[A-Za-z0-9-]{1,40})"
# "attachments" belongs to the documents app (apps/dms): never matched here.
COLUMN = r"(?P<column>(?!attachments$)[A-Za-z][A-Za-z0-9_]{0,59})"

urlpatterns = [
    path("models", api.ModelsView.as_view(), name="records-models"),
    re_path(rf"^models/{TABLE}$", api.TableView.as_view(), name="records-table"),
    re_path(rf"^models/{TABLE}/{RECORD}$", api.RecordView.as_view(), name="records-record"),
    re_path(rf"^models/{TABLE}/{RECORD}/{COLUMN}$", api.RecordColumnView.as_view(), name="records-column"),
    path("forms", api.FormsView.as_view(), name="records-forms"),
    path("caches", api.CachesView.as_view(), name="records-caches"),
    re_path(r"^reference/(?P<reference>[^/]{1,120})$", api.ReferenceView.as_view(), name="records-reference"),
    path("batch", api.BatchView.as_view(), name="records-batch"),
]
