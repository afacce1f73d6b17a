"""The baseline: a plain DRF ModelViewSet with page-number pagination over the same partners."""

from __future__ import annotations

from rest_framework import serializers, viewsets
from rest_framework.pagination import PageNumberPagination

from apps.core.context import get_context
from apps.erp.models import BPartner


class BPartnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = BPartner
        fields = ("id", "uid", "value", "name", "is_customer", "is_vendor", "bp_group", "so_credit_limit")


class Pages(PageNumberPagination):
    page_size = 20


class BPartnerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BPartnerSerializer
    pagination_class = Pages

    def get_queryset(self):
        ctx = get_context(self.request)
        return BPartner.objects.filter(client_id=ctx.client_id).order_by("id")
