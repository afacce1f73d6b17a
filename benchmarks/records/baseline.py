"""A plain DRF baseline: ModelViewSet, ModelSerializer with the group nested, django-filter,
limit/offset pagination (a COUNT and a page), over the same partners and the same rows.

``GET /baseline/bpartners?value__startswith=BENCH001[&is_customer=true]&limit=20&offset=0``
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, viewsets
from rest_framework.pagination import LimitOffsetPagination

from apps.core.context import get_context
from apps.erp.models import BPartner, BPGroup


class BPGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = BPGroup
        fields = "__all__"


class BPartnerSerializer(serializers.ModelSerializer):
    bp_group = BPGroupSerializer()

    class Meta:
        model = BPartner
        fields = ("id", "uid", "value", "name", "is_customer", "bp_group")


class Pages(LimitOffsetPagination):
    default_limit = 20


class BPartnerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BPartnerSerializer
    pagination_class = Pages
    filter_backends = (DjangoFilterBackend,)
    filterset_fields = {"value": ["startswith"], "is_customer": ["exact"]}

    def get_queryset(self):
        ctx = get_context(self.request)
        return (
            BPartner.objects.filter(client_id__in=[ctx.client_id, 0])
            .select_related("bp_group")
            .order_by("id")
        )
