"""Reads of subscriptions and deliveries: the caller's client only, for its admin role."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.core.context import RequestContext
from apps.core.errors import Forbidden, NotFound
from apps.core.wire import parse_id_or_key
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def _admin(ctx: RequestContext) -> None:
    if not ctx.is_admin:
        raise Forbidden("Webhooks are managed by the client's administrator role.")


def endpoints_of_client(ctx: RequestContext) -> QuerySet[WebhookEndpoint]:
    _admin(ctx)
    return WebhookEndpoint.objects.filter(client_id=ctx.client_id).order_by("id")


def endpoint_get(ctx: RequestContext, ident: Any) -> WebhookEndpoint:
    key = parse_id_or_key(ident, "Webhook id")
    found = endpoints_of_client(ctx).filter(pk=key).first() if isinstance(key, int) else None
    if found is None:
        raise NotFound(f"No webhook '{ident}'.")
    return found


def deliveries_of(endpoint: WebhookEndpoint, *, limit: int = 100) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.order_by("-id")[:limit])


def delivery_get(endpoint: WebhookEndpoint, ident: Any) -> WebhookDelivery:
    key = parse_id_or_key(ident, "Delivery id")
    found = endpoint.deliveries.filter(pk=key).first() if isinstance(key, int) else None
    if found is None:
        raise NotFound(f"No delivery '{ident}'.")
    return found
