"""Thin views of /api/v1/processes, /processes/jobs, /files and /models/{table}/{id}/print."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.downloads import content_disposition, file_response
from apps.core.openapi import problems
from apps.processes import printing, selectors, serializers, services

PDF_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY, description="The document as a PDF (application/pdf)."
)
RUN_BODY = {
    "type": "object",
    "description": "Parameters by name (`<name>_to` for the end of a range), and `report-type` "
    "(PDF, HTML or CSV) for a report.",
    "additionalProperties": True,
}


class ProcessListView(APIView):
    @extend_schema(
        operation_id="processes_list",
        parameters=[OpenApiParameter("$filter", OpenApiTypes.STR, description="e.g. `IsReport eq true`")],
        responses={200: serializers.ProcessSerializer(many=True)},
        summary="Processes and reports the role may see (a JSON array)",
    )
    def get(self, request):
        ctx = get_context(request)
        found = selectors.processes_visible(ctx, request.query_params.get("$filter"))
        return Response([serializers.process_json(process) for process in found])


class ProcessView(APIView):
    @extend_schema(
        operation_id="processes_retrieve",
        responses={200: serializers.ProcessDetailSerializer},
        summary="A process with its parameters and their types",
    )
    def get(self, request, slug: str):
        process = selectors.process_by_slug(get_context(request), slug)
        return Response(serializers.process_detail_json(process))

    @extend_schema(
        operation_id="processes_run",
        request={"application/json": RUN_BODY},
        responses={200: serializers.RunSerializer},
        summary="Run a process now; a report's file is then at GET /api/v1/files/{reportFile}",
    )
    def post(self, request, slug: str):
        ctx = get_context(request)
        process = selectors.process_by_slug(ctx, slug, run=True)
        instance = services.process_run(ctx=ctx, process=process, body=request.data)
        return Response(serializers.run_json(instance))


class JobListView(APIView):
    @extend_schema(
        operation_id="processes_jobs_list",
        responses={200: serializers.JobSerializer(many=True)},
        summary="The caller's jobs still queued or running",
    )
    def get(self, request):
        return Response([serializers.job_json(job) for job in selectors.jobs_pending(get_context(request))])


def _job_start(request, slug: str) -> Response:
    ctx = get_context(request)
    process = selectors.process_by_slug(ctx, slug, run=True)
    instance = services.process_job_start(ctx=ctx, process=process, body=request.data)
    instance.refresh_from_db()
    response = Response(serializers.job_json(instance))
    response["Location"] = f"/api/v1/processes/jobs/{instance.pk}"
    return response


def _job(request, job_id: str) -> Response:
    return Response(serializers.job_json(selectors.job_get(get_context(request), job_id)))


# GET /processes/jobs/{id} and POST /processes/jobs/{slug} share a path: a job id is digits and
# a slug never is (Process.clean), so the route of digits is the job's and the other the slug's;
# each view also answers the other method (a digit "slug" is no process: 404; a slug is no job).


class JobStartView(APIView):
    @extend_schema(
        operation_id="processes_jobs_start",
        request={"application/json": RUN_BODY},
        responses={200: serializers.JobSerializer},
        summary="Run a process as a background job; poll GET /api/v1/processes/jobs/{id}",
    )
    def post(self, request, slug: str):
        return _job_start(request, slug)

    @extend_schema(exclude=True)
    def get(self, request, slug: str):
        return _job(request, slug)


class JobView(APIView):
    @extend_schema(
        operation_id="processes_jobs_retrieve",
        responses={200: serializers.JobSerializer},
        summary="A job of the caller: status, and once done its result (report file) and errors",
    )
    def get(self, request, job_id: str):
        return _job(request, job_id)

    @extend_schema(exclude=True)
    def post(self, request, job_id: str):
        return _job_start(request, job_id)


class FileView(APIView):
    @extend_schema(
        operation_id="files_retrieve",
        responses={
            **{
                (200, media): OpenApiResponse(
                    response=OpenApiTypes.BINARY, description="The file (PDF, HTML or CSV), streamed."
                )
                for media in ("application/pdf", "text/html", "text/csv")
            },
            **problems(410),
        },
        summary="A report file of the caller (streamed; Range and ETag as every download)",
    )
    def get(self, request, report_file: str):
        found = selectors.report_file_get(get_context(request), report_file)
        return file_response(
            request, size=found.size, sha256=found.sha256, file_name=found.file_name,
            content_type=found.content_type, storage=default_storage, key=found.storage_key,
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
