"""Thin views of /api/v1/webhooks: the client administrator's subscriptions and delivery log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.webhooks import selectors, serializers, services


class EndpointListView(APIView):
    @extend_schema(
        operation_id="webhooks_list",
        responses={200: serializers.EndpointSerializer(many=True)},
        summary="The client's webhook subscriptions (administrator role)",
    )
    def get(self, request):
        endpoints = selectors.endpoints_of_client(get_context(request))
        return Response([serializers.endpoint_json(e) for e in endpoints])

    @extend_schema(
        operation_id="webhooks_create",
        request=serializers.EndpointInputSerializer,
        responses={201: serializers.EndpointSerializer},
        summary="Subscribe a URL to events; the answer carries the signing secret",
    )
    def post(self, request):
        ctx = get_context(request)
        selectors.endpoints_of_client(ctx)  # the administrator check, before any input is read
        endpoint = services.endpoint_create(ctx=ctx, values=request.data)
        return Response(serializers.endpoint_json(endpoint, with_secret=True), status=status.HTTP_201_CREATED)


class EndpointView(APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses={200: serializers.EndpointSerializer},
                   summary="One subscription, with its secret")
    def get(self, request, webhook_id: str):
        endpoint = selectors.endpoint_get(get_context(request), webhook_id)
        return Response(serializers.endpoint_json(endpoint, with_secret=True))

    @extend_schema(operation_id="webhooks_update", request=serializers.EndpointInputSerializer,
                   responses={200: serializers.EndpointSerializer},
                   summary="Change a subscription (the fields given); secret null makes a new one")
    def put(self, request, webhook_id: str):
        ctx = get_context(request)
        endpoint = selectors.endpoint_get(ctx, webhook_id)
        endpoint = services.endpoint_update(ctx=ctx, endpoint=endpoint, values=request.data)
        return Response(serializers.endpoint_json(endpoint, with_secret=True))

    @extend_schema(operation_id="webhooks_destroy", responses={204: None}, summary="Delete a subscription")
    def delete(self, request, webhook_id: str):
        services.endpoint_delete(endpoint=selectors.endpoint_get(get_context(request), webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(APIView):
    @extend_schema(operation_id="webhooks_deliveries_list",
                   responses={200: serializers.DeliverySerializer(many=True)},
                   summary="The delivery log of a subscription (newest first, 100)")
    def get(self, request, webhook_id: str):
        endpoint = selectors.endpoint_get(get_context(request), webhook_id)
        return Response([serializers.delivery_json(d) for d in selectors.deliveries_of(endpoint)])


class DeliveryReplayView(APIView):
    @extend_schema(operation_id="webhooks_deliveries_replay", request=None,
                   responses={202: serializers.DeliverySerializer},
                   summary="Send a delivery again (same webhook-id)")
    def post(self, request, webhook_id: str, delivery_id: str):
        endpoint = selectors.endpoint_get(get_context(request), webhook_id)
        delivery = services.delivery_replay(delivery=selectors.delivery_get(endpoint, delivery_id))
        return Response(serializers.delivery_json(delivery), status=status.HTTP_202_ACCEPTED)
