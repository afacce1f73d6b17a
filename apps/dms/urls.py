"""Document routes under /api/v1/: record attachments, the iDempiere copy call, Nuxeo documents
(by path or uid, with or without ``repo/{repository}``; adapters ``@children``, ``@blob``)."""

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
    re_path(
        r"^repo/(?P<repository>[^/]+)/path/(?P<doc_path>.+)$", nuxeo.NuxeoPathView.as_view(),
        name="nuxeo-repo-path",
    ),
    re_path(r"^id/(?P<uid>[^/]+)$", nuxeo.NuxeoIdView.as_view(), name="nuxeo-id"),
    re_path(
        r"^id/(?P<uid>[^/]+)/@(?P<adapter>.+)$", nuxeo.NuxeoIdView.as_view(),
        name="nuxeo-id-adapter",
    ),
    re_path(
        r"^repo/(?P<repository>[^/]+)/id/(?P<uid>[^/]+)$", nuxeo.NuxeoIdView.as_view(),
        name="nuxeo-repo-id",
    ),
    re_path(
        r"^repo/(?P<repository>[^/]+)/id/(?P<uid>[^/]+)/@(?P<adapter>.+)$",
        nuxeo.NuxeoIdView.as_view(), name="nuxeo-repo-id-adapter",
    ),
]
