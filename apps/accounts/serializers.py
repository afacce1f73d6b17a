from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core import wire


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class IdOrName(serializers.Field):
    """An id (number) or a name/value/uuid (string)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            raise serializers.ValidationError("Must be an id or a name.")
        if isinstance(data, str) and len(data) > 120:
            raise serializers.ValidationError("Too long.")
        return data

    def to_representation(self, value):
        return value


class ContextChoiceSerializer(serializers.Serializer):
    clientId = IdOrName(required=False)
    roleId = IdOrName(required=False)
    organizationId = IdOrName(required=False)
    warehouseId = IdOrName(required=False, allow_null=True)
    language = serializers.CharField(required=False, max_length=10, allow_blank=True)


class LoginInputSerializer(serializers.Serializer):
    # Not trimmed: a padded name is not the stored one (see selectors.user_by_username).
    userName = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    parameters = ContextChoiceSerializer(required=False)


class NamedIdSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class LoginOutputSerializer(serializers.Serializer):
    clients = NamedIdSerializer(many=True)
    token = serializers.CharField()


class SessionOutputSerializer(serializers.Serializer):
    clientId = serializers.IntegerField()
    userId = serializers.IntegerField()
    roleId = serializers.IntegerField()
    organizationId = serializers.IntegerField()
    warehouseId = serializers.IntegerField()
    language = serializers.CharField()
    token = serializers.CharField()
    refresh_token = serializers.CharField()


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)
    clientId = wire.IntegerField(required=False)
    userId = wire.IntegerField(required=False)


class RefreshOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    refresh_token = serializers.CharField()


class LogoutInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096)


class SummarySerializer(serializers.Serializer):
    summary = serializers.CharField()


class RolesSerializer(serializers.Serializer):
    roles = NamedIdSerializer(many=True)


class OrganizationsSerializer(serializers.Serializer):
    organizations = NamedIdSerializer(many=True)


class WarehousesSerializer(serializers.Serializer):
    warehouses = NamedIdSerializer(many=True)


class LanguageSerializer(serializers.Serializer):
    AD_Language = serializers.CharField()


class JwkSetSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.DictField())


class ContextSerializer(serializers.Serializer):
    clientId = serializers.IntegerField()
    roleId = serializers.IntegerField()
    organizationId = serializers.IntegerField()
    warehouseId = serializers.IntegerField()
    userId = serializers.IntegerField()
    language = serializers.CharField()
