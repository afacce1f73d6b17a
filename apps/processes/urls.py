from django.urls import re_path

from apps.processes import api

TABLE = r"(?P<table>[A-Za-z][A-Za-z0-9_]{0,59})"
RECORD = r"(?P<record>[A-Za-z0-9-]{1,40})"

urlpatterns = [
    # Before the records app's /models/{table}/{record}/{column}: "print" is no column here.
    re_path(rf"^models/{TABLE}/{RECORD}/print$", api.RecordPrintView.as_view(), name="records-print"),
]
