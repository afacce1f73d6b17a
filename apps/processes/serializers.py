"""Wire shapes of processes, runs, jobs (as iDempiere REST writes them) and of their schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.processes.models import PInstance, Process, ProcessPara, ReportFile


def process_json(process: Process) -> dict[str, Any]:
    return {
        "id": process.pk,
        "uid": str(process.uid),
        "Value": process.value,
        "Name": process.name,
        "Description": process.description,
        "Help": process.help,
        "EntityType": process.entity_type,
        "IsReport": process.is_report,
        "slug": process.slug,
        "model-name": "ad_process",
    }


def parameter_json(para: ProcessPara) -> dict[str, Any]:
    body = {
        "id": para.pk,
        "uid": str(para.uid),
        "parameterName": para.column_name,
        "Name": para.name,
        "Description": para.description,
        "Help": para.help,
        "SeqNo": para.seq_no,
        "AD_Reference_ID": {
            "propertyLabel": "Reference",
            "id": para.reference,
            "identifier": para.get_reference_display(),
            "model-name": "ad_reference",
        },
        "IsMandatory": para.is_mandatory,
        "IsRange": para.is_range,
        "DefaultValue": para.default_value,
        "DefaultValue2": para.default_value2,
        "FieldLength": para.field_length,
        "model-name": "ad_process_para",
    }
    if para.ref_table:
        body["referenceTable"] = para.ref_table
    if para.list_values:
        body["listValues"] = para.list_values
    return body


def process_detail_json(process: Process) -> dict[str, Any]:
    body = process_json(process)
    body["parameters"] = [
        parameter_json(para)
        for para in process.parameters.filter(is_active=True).order_by("seq_no", "id")
    ]
    return body


def file_json(report_file: ReportFile) -> dict[str, Any]:
    return {
        "reportFile": str(report_file.uid),
        "reportFileName": report_file.file_name,
        "reportFileLength": report_file.size,
        "reportFileType": report_file.content_type,
        "reportFileExpires": report_file.expires_at.isoformat(),
        "reportFileURL": f"/api/v1/files/{report_file.uid}",
    }


def run_json(instance: PInstance) -> dict[str, Any]:
    body: dict[str, Any] = {
        "AD_PInstance_ID": instance.pk,
        "process": instance.process.slug,
        "summary": instance.summary,
        "isError": instance.is_error,
    }
    report_file = instance.files.order_by("id").first()
    if report_file is not None:
        body.update(file_json(report_file))
    if instance.logs:
        body["logs"] = list(instance.logs)
    return body


def job_json(instance: PInstance) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": instance.pk,
        "uid": str(instance.uid),
        "client": instance.client.name,
        "user": instance.user.username,
        "process": instance.process.slug,
        "since": instance.created.isoformat(),
        "processing": instance.processing,
        "status": instance.state,
        "finished": instance.finished_at.isoformat() if instance.finished_at else None,
    }
    if not instance.processing:
        body["result"] = run_json(instance)
        body["errors"] = list(instance.errors)
    return body


# --- Schema only (drf-spectacular) ------------------------------------------------------------------


class ProcessSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    Value = serializers.CharField()
    Name = serializers.CharField()
    Description = serializers.CharField(allow_blank=True)
    Help = serializers.CharField(allow_blank=True)
    EntityType = serializers.CharField()
    IsReport = serializers.BooleanField()
    slug = serializers.CharField()


class ParameterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    parameterName = serializers.CharField()
    Name = serializers.CharField()
    SeqNo = serializers.IntegerField()
    AD_Reference_ID = serializers.DictField(help_text="{propertyLabel, id, identifier, model-name}")
    IsMandatory = serializers.BooleanField()
    IsRange = serializers.BooleanField(help_text="Also takes <parameterName>_to.")
    DefaultValue = serializers.CharField(allow_blank=True)
    referenceTable = serializers.CharField(required=False)
    listValues = serializers.ListField(child=serializers.DictField(), required=False)


class ProcessDetailSerializer(ProcessSerializer):
    parameters = ParameterSerializer(many=True)


class RunSerializer(serializers.Serializer):
    AD_PInstance_ID = serializers.IntegerField()
    process = serializers.CharField()
    summary = serializers.CharField(allow_blank=True)
    isError = serializers.BooleanField()
    reportFile = serializers.UUIDField(required=False, help_text="GET /api/v1/files/{reportFile}")
    reportFileName = serializers.CharField(required=False)
    reportFileLength = serializers.IntegerField(required=False)
    reportFileType = serializers.CharField(required=False)
    reportFileExpires = serializers.DateTimeField(required=False)
    reportFileURL = serializers.CharField(required=False)
    logs = serializers.ListField(child=serializers.CharField(), required=False)


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    client = serializers.CharField()
    user = serializers.CharField()
    process = serializers.CharField()
    since = serializers.DateTimeField()
    processing = serializers.BooleanField()
    status = serializers.ChoiceField(choices=PInstance.State.values)
    finished = serializers.DateTimeField(allow_null=True)
    result = RunSerializer(required=False)
    errors = serializers.ListField(child=serializers.DictField(), required=False)
