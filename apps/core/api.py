"""Service-wide endpoints: health."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means "down" for a health probe
        return "error"


def _check_broker() -> str:
    if celery_app.conf.task_always_eager:
        return "eager"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception:  # noqa: BLE001
        return "error"


def _check_storage() -> str:
    try:
        default_storage.exists("health-probe")
        return "ok"
    except Exception:  # noqa: BLE001
        return "error"


class HealthView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        auth=[],
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(["ok", "error"]),
                    "database": serializers.CharField(),
                    "broker": serializers.CharField(),
                    "storage": serializers.CharField(),
                },
            )
        },
        summary="Health of the service and the parts it depends on (503 when one is down)",
    )
    def get(self, request):
        checks = {
            "database": _check_database(),
            "broker": _check_broker(),
            "storage": _check_storage(),
        }
        healthy = all(value in {"ok", "eager"} for value in checks.values())
        return Response({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
