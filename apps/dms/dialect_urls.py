"""Document dialects outside /api/v1: Axelor ``/ws/...`` and Twake ``/internal/services/files``."""

from django.urls import path, re_path

from apps.dms.dialects import axelor, twake

_twake = r"^internal/services/files/v1/companies/(?P<company_id>[^/]+)/files"

urlpatterns = [
    path("ws/files/upload", axelor.AxelorUploadView.as_view(), name="axelor-upload"),
    path("ws/dms/files", axelor.DMSFilesView.as_view(), name="axelor-files"),
    path("ws/dms/files/<str:file_id>", axelor.DMSFileView.as_view(), name="axelor-file"),
    path(
        "ws/rest/com.axelor.dms.db.DMSFile/<str:file_id>", axelor.DMSFileRestView.as_view(),
        name="axelor-file-rest",
    ),
    path("ws/dms/download/<str:file_id>", axelor.DMSDownloadView.as_view(), name="axelor-download"),
    path(
        "ws/dms/attachments/<str:model>/<str:record_id>", axelor.DMSAttachmentsView.as_view(),
        name="axelor-attachments",
    ),
    re_path(_twake + r"/?$", twake.TwakeFilesView.as_view(), name="twake-files"),
    re_path(
        _twake + r"/(?P<file_id>[^/]+)/download/?$", twake.TwakeDownloadView.as_view(),
        name="twake-download",
    ),
    re_path(
        _twake + r"/(?P<file_id>[^/]+)/thumbnails/(?P<index>[0-9]+)/?$",
        twake.TwakeThumbnailView.as_view(), name="twake-thumbnail",
    ),
    re_path(_twake + r"/(?P<file_id>[^/]+)/?$", twake.TwakeFileView.as_view(), name="twake-file"),
    re_path(
        r"^internal/services/files/v1/(?P<company_id>[^/]+)/files/(?P<file_id>[^/]+)/?$",
        twake.TwakeFileAliasView.as_view(), name="twake-file-alias",
    ),
]
