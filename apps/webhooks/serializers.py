"""Wire shapes of subscriptions and deliveries (and their schema for drf-spectacular)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def endpoint_json(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    body = {
        "id": endpoint.pk,
        "uid": str(endpoint.uid),
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "is_active": endpoint.is_active,
        "created": _iso(endpoint.created),
        "updated": _iso(endpoint.updated),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "webhook-id": delivery.message_id,
        "eventType": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "responseCode": delivery.response_code,
        "lastError": delivery.last_error,
        "nextAttemptAt": _iso(delivery.next_attempt_at),
        "deliveredAt": _iso(delivery.delivered_at),
        "created": _iso(delivery.created),
    }


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="http(s) only; no private or loopback hosts.")
    events = serializers.ListField(
        child=serializers.CharField(), min_length=1, max_length=50,
        help_text="e.g. record.created:C_Order, record.*, document.completed, workflow.activity.*, "
        "upload.completed, document.file.created",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    secret = serializers.CharField(
        required=False, allow_null=True,
        help_text="whsec_ + base64 of 24-64 bytes; omitted: generated; null (PUT): a new one.",
    )
    is_active = serializers.BooleanField(required=False)


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    secret = serializers.CharField(required=False, help_text="Only in the answers to POST, GET one and PUT.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    eventType = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.values)
    attempts = serializers.IntegerField()
    responseCode = serializers.IntegerField(allow_null=True)
    lastError = serializers.CharField(allow_blank=True)
    nextAttemptAt = serializers.DateTimeField(allow_null=True)
    deliveredAt = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()


# The wire name has a hyphen, which no attribute can have.
DeliverySerializer._declared_fields["webhook-id"] = serializers.CharField(
    help_text="The Standard Webhooks message id: the same on every attempt and replay."
)
