"""The events a subscription can name, how a subscription's patterns match them, and ``emit``.

Event types: ``record.created``, ``record.updated``, ``record.deleted`` (of any registered table;
``record.created:C_Order`` narrows a pattern to one table), ``document.completed``,
``workflow.activity.created|completed|aborted|suspended|updated``, ``upload.completed`` and
``document.file.created``. A pattern ending in ``.*`` matches every type under it; ``*`` matches all.

``emit`` runs inside the transaction that made the change: it writes one delivery row per
matching endpoint of the change's client (rolled back with the change) and enqueues their
deliveries after commit. Endpoints of other clients are never looked at.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.core.errors import BadRequest
from apps.core.models import SYSTEM_CLIENT_ID

logger = logging.getLogger("ledgerdoc.webhooks")

EVENT_TYPES = (
    "record.created",
    "record.updated",
    "record.deleted",
    "document.completed",
    "workflow.activity.created",
    "workflow.activity.updated",
    "workflow.activity.suspended",
    "workflow.activity.completed",
    "workflow.activity.aborted",
    "upload.completed",
    "document.file.created",
)
TABLE_EVENTS = ("record.created", "record.updated", "record.deleted", "record.*", "document.completed")
MAX_PATTERNS = 50
ENDPOINTS_CACHE_SECONDS = 30


def _cache_key(client_id: int) -> str:
    return f"webhooks:endpoints:{client_id}"


def endpoints_cache_clear(client_id: int) -> None:
    cache.delete(_cache_key(client_id))
    transaction.on_commit(lambda: cache.delete(_cache_key(client_id)))


def _prefixes() -> set[str]:
    found = {"*"}
    for event_type in EVENT_TYPES:
        parts = event_type.split(".")
        for end in range(1, len(parts)):
            found.add(".".join(parts[:end]) + ".*")
    return found


def pattern_normalize(pattern: object) -> str:
    """A subscription pattern in its stored form (table names lower-case), or 400."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 120:
        raise BadRequest({"events": "Each event is a non-empty text of at most 120 characters."})
    base, _, table = pattern.partition(":")
    if base not in EVENT_TYPES and base not in _prefixes():
        raise BadRequest({"events": f"Unknown event '{pattern}'; known: {', '.join(EVENT_TYPES)}."})
    if table:
        from apps.records.registry import all_table_specs

        names = {spec.key for spec in all_table_specs()}
        if base not in TABLE_EVENTS:
            raise BadRequest({"events": f"'{base}' is not an event of a table: no ':<table>'."})
        if table.lower() not in names:
            raise BadRequest({"events": f"No table '{table}' (in '{pattern}')."})
        return f"{base}:{table.lower()}"
    return base


def events_normalize(events: object) -> list[str]:
    if not isinstance(events, list) or not events:
        raise BadRequest({"events": "A non-empty list of event types."})
    if len(events) > MAX_PATTERNS:
        raise BadRequest({"events": f"At most {MAX_PATTERNS} events."})
    return sorted({pattern_normalize(event) for event in events})


def pattern_matches(pattern: str, event_type: str, table: str | None) -> bool:
    base, _, wanted_table = pattern.partition(":")
    if wanted_table and (table or "").lower() != wanted_table:
        return False
    if base == "*" or base == event_type:
        return True
    return base.endswith(".*") and event_type.startswith(base[:-1])


def _endpoints(client_id: int) -> list[tuple[int, list[str]]]:
    from apps.webhooks.models import WebhookEndpoint

    key = _cache_key(client_id)
    found = cache.get(key)
    if found is None:
        found = [
            (pk, list(events or []))
            for pk, events in WebhookEndpoint.objects.filter(client_id=client_id, is_active=True)
            .values_list("id", "events")
        ]
        cache.set(key, found, ENDPOINTS_CACHE_SECONDS)
    return found


def emit(*, client_id: int | None, event_type: str, data: dict[str, Any], table: str | None = None) -> int:
    """Queue ``event_type`` for every endpoint of ``client_id`` that subscribes to it; the count."""
    if not client_id or client_id == SYSTEM_CLIENT_ID:
        return 0
    endpoints = [
        pk for pk, patterns in _endpoints(client_id)
        if any(pattern_matches(p, event_type, table) for p in patterns)
    ]
    if not endpoints:
        return 0
    from apps.webhooks.models import WebhookDelivery
    from apps.webhooks.tasks import deliver_webhook

    now = timezone.now()
    body = json.dumps(
        {"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
        cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False,
    )
    deliveries = [
        WebhookDelivery.objects.create(
            client_id=client_id, endpoint_id=pk, message_id=f"msg_{uuid.uuid4().hex}",
            event_type=event_type, body=body, next_attempt_at=now,
        )
        for pk in endpoints
    ]
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: _enqueue(deliver_webhook, pk))
    return len(deliveries)


def _enqueue(task: Any, delivery_id: int) -> None:
    """Hand a delivery to Celery; with the broker down it stays pending for the retry sweep."""
    try:
        task.delay(delivery_id)
    except Exception:
        logger.exception("Webhook delivery %s not enqueued; the sweep will send it", delivery_id)
