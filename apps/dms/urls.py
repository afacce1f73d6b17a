"""Document routes under /api/v1/: record attachments, the iDempiere copy call, Nuxeo documents."""

from django.urls import path, re_path

from apps.dms.dialects import attachments, nuxeo

urlpatterns = [
    path(
        "models/<str:table>/<str:record_id>/attachments",
        attachments.RecordAttachmentsView.as_view(), name="dms-attachments",
    ),
    path(
        "models/<str:table>/<str:record_id>/attachments/zip",
        attachments.RecordAttachmentsZipView.as_view(), name="dms-attachments-zip",
    ),
    path(
        "models/<str:table>/<str:record_id>/attachments/<str:file_name>",
        attachments.RecordAttachmentView.as_view(), name="dms-attachment",
    ),
    path("uploads/<str:upload_id>/copy", attachments.UploadCopyView.as_view(), name="dms-copy"),
    re_path(r"^path/(?P<doc_path>.+)$", nuxeo.NuxeoPathView.as_view(), name="nuxeo-path"),
]
