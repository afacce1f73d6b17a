"""Wire shapes of the records API for the OpenAPI schema (records themselves are per-table PO-JSON)."""

from __future__ import annotations

from rest_framework import serializers


class ModelItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    model_name = serializers.CharField(help_text="lower-case table name")
    name = serializers.CharField()
    description = serializers.CharField()

    def to_representation(self, instance):  # pragma: no cover - schema only
        return instance


ModelItemSerializer._declared_fields["model-name"] = ModelItemSerializer._declared_fields.pop("model_name")


class ModelsSerializer(serializers.Serializer):
    models = ModelItemSerializer(many=True)


class RecordPageSerializer(serializers.Serializer):
    records = serializers.ListField(child=serializers.DictField(), help_text="PO-JSON records")


for _name in ("page-count", "records-size", "skip-records", "row-count", "array-count"):
    # With ``Prefer: count=none`` there is no row-count, hence no page-count.
    RecordPageSerializer._declared_fields[_name] = serializers.IntegerField(
        required=_name not in ("page-count", "row-count")
    )
RecordPageSerializer._declared_fields["next-link"] = serializers.URLField(
    required=False, help_text="The next page by $skiptoken (only in answers to a $skiptoken request)"
)


class RecordSerializer(serializers.Serializer):
    """PO-JSON: id, uid, model-name and one key per column (FKs and list values as objects)."""

    id = serializers.IntegerField()
    uid = serializers.UUIDField()


RecordSerializer._declared_fields["model-name"] = serializers.CharField()


class DeletedSerializer(serializers.Serializer):
    msg = serializers.CharField()


class FormItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    help = serializers.CharField()
    classname = serializers.CharField()


class FormsSerializer(serializers.Serializer):
    forms = FormItemSerializer(many=True)


class CacheItemSerializer(serializers.Serializer):
    name = serializers.CharField()
    table_name = serializers.CharField()
    size = serializers.IntegerField()
    expireMinutes = serializers.IntegerField()
    maxSize = serializers.IntegerField()
    distributed = serializers.BooleanField()


class CachesSerializer(serializers.Serializer):
    caches = CacheItemSerializer(many=True)


class CachesResetSerializer(serializers.Serializer):
    entriesReset = serializers.IntegerField()


class RefValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    name = serializers.CharField()


class ReferenceSerializer(serializers.Serializer):
    name = serializers.CharField()
    reflist = RefValueSerializer(many=True)


class BatchStepHeadersSerializer(serializers.Serializer):
    pass


BatchStepHeadersSerializer._declared_fields["If-Match"] = serializers.CharField(
    required=False, help_text="The record's ETag as read: the step fails with 412 if it changed since."
)


class BatchStepSerializer(serializers.Serializer):
    method = serializers.ChoiceField(["GET", "POST", "PUT", "DELETE"])
    path = serializers.CharField(
        help_text="relative to /api/v1/ (models/c_bpartner) or to /api/ (v1/models/c_bpartner); "
        "a leading /api/v1/ is accepted"
    )
    body = serializers.JSONField(required=False)
    headers = BatchStepHeadersSerializer(required=False, help_text="If-Match; other headers are ignored")


BatchStepSerializer._declared_fields["@odata.etag"] = serializers.CharField(
    required=False, help_text="Same as headers.If-Match"
)


class BatchResultHeadersSerializer(serializers.Serializer):
    ETag = serializers.CharField(
        help_text="The record's version after this step, e.g. `\"3.1767225600000000\"`: the If-Match "
        "of a later step or call."
    )


class BatchResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    statusCode = serializers.IntegerField()
    body = serializers.JSONField()
    headers = BatchResultHeadersSerializer(
        required=False,
        help_text="Only in the result of a step that read or wrote one record (GET, POST or PUT "
        "of models/{table}[/{id}[/{column}]]): that record's ETag.",
    )
