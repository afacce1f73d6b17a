"""Thin views of /api/v1/processes, /processes/jobs, /files and /models/{table}/{id}/print."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.downloads import content_disposition
from apps.processes import printing

PDF_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY, description="The document as a PDF (application/pdf)."
)


class RecordPrintView(APIView):
    @extend_schema(
        operation_id="records_record_print",
        responses={(200, "application/pdf"): PDF_RESPONSE},
        summary="Print a record (C_Order) as a PDF: header, business partner, lines and totals",
    )
    def get(self, request, table: str, record: str):
        document = printing.record_print(get_context(request), table, record)
        response = HttpResponse(document.content, content_type=document.content_type)
        response["Content-Disposition"] = content_disposition(document.file_name, inline=True)
        response["Content-Length"] = str(len(document.content))
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
