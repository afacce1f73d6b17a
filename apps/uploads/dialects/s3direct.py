"""Direct-to-S3 uploads, Companion's S3 multipart protocol (what Uppy's ``@uppy/aws-s3`` calls with
its ``endpoint`` option): thin views over :mod:`apps.uploads.direct`.

``POST /s3/multipart`` ``{filename, type, metadata: {size, sha256}}`` → ``{key, uploadId}``;
``GET /s3/multipart/{uploadId}/{partNumber}?key=`` → ``{url, expires}`` (a presigned PUT of that
part); ``GET /s3/multipart/{uploadId}?key=`` → the parts S3 holds, ``[{PartNumber, Size, ETag}]``;
``POST /s3/multipart/{uploadId}/complete?key=`` ``{parts: [{PartNumber, ETag}]}`` →
``{location}``; ``DELETE /s3/multipart/{uploadId}?key=`` aborts. ``uploadId`` is the upload
session's id (not S3's), ``key`` the server-made object key, repeated by the client.

Authentication is that of every upload endpoint: a bearer access token, or the web UI's upload
token (:func:`~apps.accounts.authentication.upload_authentication_classes`), which nothing else
takes. With local storage every call answers 409 ``direct_uploads_need_s3``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import upload_authentication_classes
from apps.accounts.permissions import HasRequestContext
from apps.core.context import get_context
from apps.core.errors import BadRequest
from apps.uploads import direct
from apps.uploads.models import UploadSession

TAGS = ["uploads (direct to S3)"]
KEY = OpenApiParameter("key", str, description="The object key the create call answered.")

CreateIn = inline_serializer("S3MultipartCreateIn", {
    "filename": serializers.CharField(),
    "type": serializers.CharField(required=False, allow_blank=True),
    "metadata": inline_serializer("S3MultipartMetadata", {
        "size": serializers.IntegerField(help_text="The file's size in bytes (required)."),
        "sha256": serializers.CharField(help_text="The file's SHA-256, hexadecimal (required)."),
    }),
})
CreateOut = inline_serializer("S3MultipartCreated", {
    "key": serializers.CharField(), "uploadId": serializers.CharField(),
})
SignOut = inline_serializer("S3MultipartSignedPart", {
    "url": serializers.URLField(), "expires": serializers.IntegerField(),
})
PartOut = inline_serializer("S3MultipartPart", {
    "PartNumber": serializers.IntegerField(), "Size": serializers.IntegerField(),
    "ETag": serializers.CharField(),
}, many=True)
CompleteIn = inline_serializer("S3MultipartCompleteIn", {
    "parts": serializers.ListField(child=inline_serializer("S3MultipartPartIn", {
        "PartNumber": serializers.IntegerField(), "ETag": serializers.CharField(),
    })),
})
CompleteOut = inline_serializer("S3MultipartCompleted", {
    "location": serializers.URLField(), "uploadId": serializers.CharField(),
    "state": serializers.CharField(),
})
ERRORS = {
    404: OpenApiResponse(description="No such upload of the caller"),
    409: OpenApiResponse(description="Not S3 storage, or the upload is not open"),
    410: OpenApiResponse(description="Expired"),
}


def _object(request: Any) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def _location(request: Any, session: UploadSession) -> str:
    base = (settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")).rstrip("/")
    return f"{base}/api/v1/uploads/{session.uid}"


class DirectView(APIView):
    authentication_classes = upload_authentication_classes()
    permission_classes = (HasRequestContext,)
    # The UI's upload token also on GET here: these GETs sign a part and list parts (the
    # uploader's own calls); they never read a file back (why tus refuses it on GET).
    upload_token_gets = True

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"  # presigned URLs and keys: never cached
        return response

    def session(self, request: Any, upload_id: str) -> UploadSession:
        if not direct.direct_available():
            raise direct.DirectUnavailable("Direct uploads need S3 storage.")
        return direct.direct_session(get_context(request), upload_id, request.query_params.get("key"))


class CreateView(DirectView):
    @extend_schema(tags=TAGS, operation_id="s3_multipart_create", request=CreateIn,
                   responses={200: CreateOut, 409: ERRORS[409],
                              413: OpenApiResponse(description="Over the size limit or the quota")},
                   summary="Start a direct-to-S3 multipart upload")
    def post(self, request) -> Response:
        body = _object(request)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise BadRequest("metadata must be an object.")
        filename = body.get("filename", metadata.get("name"))
        content_type = body.get("type", metadata.get("type"))
        if not isinstance(filename, str | None) or not isinstance(content_type, str | None):
            raise BadRequest("filename and type must be strings.")
        session = direct.direct_create(
            ctx=get_context(request), file_name=filename or "", content_type=content_type or "",
            size=metadata.get("size", body.get("size")),
            sha256=metadata.get("sha256", body.get("sha256")),
        )
        return Response({"key": session.storage_key, "uploadId": str(session.uid)})


class UploadView(DirectView):
    @extend_schema(tags=TAGS, operation_id="s3_multipart_parts", parameters=[KEY],
                   responses={200: PartOut, **ERRORS},
                   summary="The parts S3 holds of the upload (resume)")
    def get(self, request, upload_id: str) -> Response:
        return Response(direct.direct_list_parts(session=self.session(request, upload_id)))

    @extend_schema(tags=TAGS, operation_id="s3_multipart_abort", parameters=[KEY],
                   responses={204: None, **ERRORS}, summary="Abort the upload")
    def delete(self, request, upload_id: str) -> Response:
        direct.direct_abort(session=self.session(request, upload_id))
        return Response(status=204)


class SignPartView(DirectView):
    @extend_schema(tags=TAGS, operation_id="s3_multipart_sign_part", parameters=[KEY],
                   responses={200: SignOut, **ERRORS}, summary="A presigned URL for one part")
    def get(self, request, upload_id: str, part_number: int) -> Response:
        session = self.session(request, upload_id)
        return Response(direct.direct_sign_part(session=session, part_number=part_number))


class CompleteView(DirectView):
    @extend_schema(tags=TAGS, operation_id="s3_multipart_complete", parameters=[KEY],
                   request=CompleteIn,
                   responses={200: CompleteOut, **ERRORS,
                              422: OpenApiResponse(description="S3 holds another size")},
                   summary="Complete the upload (then verified and stored by a worker)")
    def post(self, request, upload_id: str) -> Response:
        session = self.session(request, upload_id)
        done = direct.direct_complete(session=session, parts=_object(request).get("parts"))
        return Response({
            "location": _location(request, done), "uploadId": str(done.uid), "state": done.state,
        })


urlpatterns = [
    path("s3/multipart", CreateView.as_view(), name="s3-multipart"),
    path("s3/multipart/<str:upload_id>", UploadView.as_view(), name="s3-multipart-upload"),
    path("s3/multipart/<str:upload_id>/complete", CompleteView.as_view(),
         name="s3-multipart-complete"),
    path("s3/multipart/<str:upload_id>/<int:part_number>", SignPartView.as_view(),
         name="s3-multipart-part"),
]
