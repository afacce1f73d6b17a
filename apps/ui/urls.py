"""The web UI under /ui/ (config/urls.py mounts it; / redirects here)."""

from django.urls import path, re_path

from apps.ui.views import approvals, auth, documents, orders
from apps.ui.views.errors import not_found_view

app_name = "ui"

urlpatterns = [
    path("", auth.home_view, name="home"),
    path("login", auth.login_view, name="login"),
    path("login/context", auth.login_context_view, name="login-context"),
    path("logout", auth.logout_view, name="logout"),
    path("upload-token", documents.upload_token_view, name="upload-token"),
    # Documents: the tree from its root, or from a folder.
    path("documents/", documents.documents_view, name="documents"),
    path("documents/<int:folder_id>/", documents.documents_view, name="folder"),
    path("documents/new-folder", documents.folder_create_view, name="folder-create-root"),
    path("documents/<int:folder_id>/new-folder", documents.folder_create_view, name="folder-create"),
    path("documents/place", documents.place_upload_view, name="place-root"),
    path("documents/<int:folder_id>/place", documents.place_upload_view, name="place"),
    path("documents/item/<int:file_id>/rename", documents.rename_view, name="rename"),
    path("documents/item/<int:file_id>/move", documents.move_view, name="move"),
    path("documents/item/<int:file_id>/delete", documents.delete_view, name="delete"),
    path("documents/item/<int:file_id>/download", documents.download_view, name="download"),
    path("documents/item/<int:file_id>/thumbnail", documents.thumbnail_view, name="thumbnail"),
    path("documents/item/<int:file_id>/status", documents.file_status_view, name="file-status"),
    # Orders and their attachments.
    path("orders/", orders.orders_view, name="orders"),
    path("orders/<int:order_id>/", orders.order_view, name="order"),
    path("orders/<int:order_id>/complete", orders.order_complete_view, name="order-complete"),
    path("orders/<int:order_id>/attachments", orders.attachment_place_view, name="attachment-place"),
    path(
        "orders/<int:order_id>/attachments/<int:attachment_id>/download",
        orders.attachment_download_view, name="attachment-download",
    ),
    path(
        "orders/<int:order_id>/attachments/<int:attachment_id>/delete",
        orders.attachment_delete_view, name="attachment-delete",
    ),
    # Approvals.
    path("approvals/", approvals.inbox_view, name="approvals"),
    path(
        "approvals/<int:activity_id>/<slug:action>", approvals.activity_action_view,
        name="activity-action",
    ),
    path("history/<slug:table>/<int:record_id>/", approvals.history_view, name="history"),
    re_path(r"^.*$", not_found_view),
]
