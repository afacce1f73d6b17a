"""Subscriptions (create, change, delete) and deliveries (attempt, retry schedule, replay, sweep)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.context import RequestContext
from apps.core.errors import BadRequest
from apps.webhooks import signing
from apps.webhooks.events import endpoints_cache_clear, events_normalize
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint, secret_new
from apps.webhooks.urlcheck import (
    Address,
    UnsafeURL,
    session_pinned,
    url_check_resolved,
    url_validate,
)

logger = logging.getLogger("ledgerdoc.webhooks")

# Seconds before the 2nd, 3rd, ... attempt (the Standard Webhooks guidance: quick, then spaced out).
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
CLAIM_SECONDS = 120
FIELDS = ("url", "description", "events", "secret", "is_active")
USER_AGENT = "Ledgerdoc-Webhooks/1.0"


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 6)))


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))


def _values(values: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(str(key) for key in values if key not in FIELDS)
    if unknown:
        raise BadRequest({key: "Unknown field." for key in unknown[:20]})
    clean: dict[str, Any] = {}
    if creating or "url" in values:
        clean["url"] = url_validate(values.get("url"))
    if creating or "events" in values:
        clean["events"] = events_normalize(values.get("events"))
    if "description" in values:
        text = values["description"]
        if not isinstance(text, str) or len(text) > 255 or "\x00" in text:
            raise BadRequest({"description": "Text of at most 255 characters."})
        clean["description"] = text
    if "secret" in values:
        clean["secret"] = secret_new() if values["secret"] is None else signing.secret_validate(values["secret"])
    if "is_active" in values:
        if not isinstance(values["is_active"], bool):
            raise BadRequest({"is_active": "true or false."})
        clean["is_active"] = values["is_active"]
    return clean


@transaction.atomic
def endpoint_create(*, ctx: RequestContext, values: Any) -> WebhookEndpoint:
    clean = _values(values, creating=True)
    endpoint = WebhookEndpoint.objects.create(
        client_id=ctx.client_id, org_id=0, created_by_id=ctx.user_id, updated_by_id=ctx.user_id, **clean,
    )
    endpoints_cache_clear(ctx.client_id)
    return endpoint


@transaction.atomic
def endpoint_update(*, ctx: RequestContext, endpoint: WebhookEndpoint, values: Any) -> WebhookEndpoint:
    clean = _values(values, creating=False)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in clean.items():
        setattr(endpoint, name, value)
    endpoint.updated_by_id = ctx.user_id
    endpoint.save()
    endpoints_cache_clear(endpoint.client_id)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    client_id = endpoint.client_id
    endpoint.delete()
    endpoints_cache_clear(client_id)


def _claim(delivery_id: int) -> bool:
    """Pending and due → leased to this attempt (a second task for the same delivery finds it taken)."""
    now = timezone.now()
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
        ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, addresses: list[Address]) -> requests.Response:
    """POST to the addresses the URL check judged (the name is not resolved again)."""
    body = delivery.body.encode("utf-8")
    headers = signing.headers(
        secret=endpoint.secret, message_id=delivery.message_id, timestamp=int(time.time()), body=body,
    )
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    with session_pinned(addresses) as session:  # no proxy or .netrc from the environment either
        return session.post(
            endpoint.url, data=body, headers=headers, timeout=(5, _timeout()), allow_redirects=False,
        )


def delivery_attempt(*, delivery_id: int) -> float | None:
    """One attempt of a due delivery; the seconds until the next attempt, or None when it is done
    (delivered, given up, or not this caller's to attempt)."""
    if not _claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    code: int | None = None
    error = ""
    permanent = False
    if not endpoint.is_active:
        error, permanent = "The endpoint is disabled.", True
    else:
        try:
            addresses = url_check_resolved(endpoint.url)  # the form too; resolved once, pinned
            response = _post(endpoint, delivery, addresses)
            code = response.status_code
            response.close()
        except UnsafeURL as exc:
            error, permanent = str(exc)[:500], True
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: the endpoint did not answer."
    attempts = delivery.attempts + 1
    now = timezone.now()
    if code is not None and 200 <= code < 300:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.SUCCEEDED, attempts=attempts, response_code=code,
            last_error="", delivered_at=now, next_attempt_at=None, updated=now,
        )
        return None
    if code is not None:
        error = f"HTTP {code}"
    if permanent or attempts >= _max_attempts():
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, attempts=attempts, response_code=code,
            last_error=error, next_attempt_at=None, updated=now,
        )
        return None
    delay = RETRY_SCHEDULE[min(attempts - 1, len(RETRY_SCHEDULE) - 1)]
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        attempts=attempts, response_code=code, last_error=error,
        next_attempt_at=now + timedelta(seconds=delay), updated=now,
    )
    return float(delay)


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (same webhook-id, so receivers can de-duplicate), now."""
    from apps.webhooks.events import _enqueue
    from apps.webhooks.tasks import deliver_webhook

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now(), updated=timezone.now(),
    )
    transaction.on_commit(lambda pk=delivery.pk: _enqueue(deliver_webhook, pk))
    delivery.refresh_from_db()
    return delivery


def deliveries_due(*, now: Any = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
