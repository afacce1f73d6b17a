"""Outbound webhooks: a client's subscriptions (endpoints) and the log of every delivery."""

from __future__ import annotations

import base64
import secrets

from django.db import models
from django.utils import timezone

from apps.core.models import TenantModel

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def secret_new() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


class WebhookEndpoint(TenantModel):
    """A subscription of a client: where to POST which events, and the secret that signs them."""

    url = models.CharField("URL", db_column="URL", max_length=2000)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    events = models.JSONField(
        db_column="Events", default=list,
        help_text='Event types, e.g. ["record.created:C_Order", "document.completed", '
        '"workflow.activity.*", "upload.completed", "document.file.created"].',
    )
    secret = models.CharField(db_column="Secret", max_length=100, default=secret_new)

    class Meta:
        db_table = "AD_WebhookEndpoint"
        verbose_name = "webhook endpoint"
        ordering = ("id",)
        indexes = (models.Index(fields=["client", "is_active"], name="ad_webhook_client_idx"),)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantModel):
    """One message to one endpoint, with every attempt's outcome (the delivery log)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, db_column="AD_WebhookEndpoint_ID", on_delete=models.CASCADE,
        related_name="deliveries",
    )
    message_id = models.CharField("webhook-id", db_column="MessageId", max_length=64)
    event_type = models.CharField(db_column="EventType", max_length=80)
    body = models.TextField(db_column="Body", help_text="The exact JSON bytes (UTF-8) sent and signed.")
    status = models.CharField(db_column="Status", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(db_column="Attempts", default=0)
    response_code = models.PositiveIntegerField(db_column="ResponseCode", null=True, blank=True)
    last_error = models.CharField(db_column="LastError", max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(db_column="NextAttempt", null=True, blank=True, default=timezone.now)
    delivered_at = models.DateTimeField(db_column="Delivered", null=True, blank=True)

    class Meta:
        db_table = "AD_WebhookDelivery"
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ("-id",)
        indexes = (models.Index(fields=["status", "next_attempt_at"], name="ad_webhook_due_idx"),)

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
