"""Nuxeo upload handlers (DESIGN §11 "Peer clients"): the calls a Nuxeo client makes before a batch.

``GET /upload/handlers`` lists the handlers (only ``default``: bytes go through this server, there is
no direct-to-S3 handler); ``POST /upload/new/{handler}`` opens a batch with one of them, as
``POST /upload`` does (``apps.uploads.dialects.nuxeo``). The Python client asks for the list before
``uploads.batch(handler=...)`` and refuses to go on when it cannot read it.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.errors import NotFound
from apps.uploads import batches

TAGS = ["uploads (Nuxeo)"]
HANDLERS = ("default",)

HandlersOut = inline_serializer("NuxeoUploadHandlers", {
    "handlers": serializers.ListField(child=inline_serializer("NuxeoUploadHandler", {
        "name": serializers.CharField(),
    })),
})
NewBatchOut = inline_serializer("NuxeoNewBatch", {
    "batchId": serializers.CharField(), "provider": serializers.CharField(),
})


class UploadHandlersView(APIView):
    @extend_schema(tags=TAGS, operation_id="nuxeo_upload_handlers", responses={200: HandlersOut},
                   summary="The available upload handlers")
    def get(self, request):
        return Response({"handlers": [{"name": name} for name in HANDLERS]})


class UploadHandlerBatchView(APIView):
    @extend_schema(tags=TAGS, operation_id="nuxeo_upload_handler_batch", request=None,
                   responses={201: NewBatchOut},
                   summary="Initialize an upload batch with a given handler")
    def post(self, request, handler: str):
        if handler not in HANDLERS:
            raise NotFound(f"No upload handler named '{handler}'.", code="upload_handler")
        batch = batches.batch_create(ctx=get_context(request))
        return Response({"batchId": str(batch.uid), "provider": handler}, status=201)


urlpatterns = [
    path("upload/handlers", UploadHandlersView.as_view(), name="nuxeo-upload-handlers"),
    path("upload/new/<str:handler>", UploadHandlerBatchView.as_view(),
         name="nuxeo-upload-handler-batch"),
]
