"""Celery tasks of webhooks: fetch by id, call a service, nothing else."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.webhooks import services


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def deliver_webhook(self, delivery_id: int) -> None:
    delay = services.delivery_attempt(delivery_id=delivery_id)
    if delay is not None and not self.request.is_eager:
        # The row says when; this is the fast path. In eager mode the beat sweep (or a replay)
        # sends it when due rather than blocking the request that made the change.
        self.apply_async((delivery_id,), countdown=delay)


@shared_task(acks_late=True)
def retry_due_webhooks() -> int:
    due = services.deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
