from django.urls import path, re_path

from apps.processes import api

TABLE = r"(?P<table>[A-Za-z][A-Za-z0-9_]{0,59})"
RECORD = r"(?P<record>[A-Za-z0-9-]{1,40})"
SLUG = r"(?P<slug>[A-Za-z0-9-]{1,80})"

urlpatterns = [
    # Before the records app's /models/{table}/{record}/{column}: "print" is no column here.
    re_path(rf"^models/{TABLE}/{RECORD}/print$", api.RecordPrintView.as_view(), name="records-print"),
    path("processes", api.ProcessListView.as_view(), name="processes-list"),
    path("processes/jobs", api.JobListView.as_view(), name="processes-jobs"),
    re_path(r"^processes/jobs/(?P<job_id>[0-9]{1,18})$", api.JobView.as_view(), name="processes-job"),
    re_path(rf"^processes/jobs/{SLUG}$", api.JobStartView.as_view(), name="processes-job-start"),
    re_path(rf"^processes/{SLUG}$", api.ProcessView.as_view(), name="processes-process"),
    re_path(r"^files/(?P<report_file>[^/]{1,80})$", api.FileView.as_view(), name="files-file"),
]
