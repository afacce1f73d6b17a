"""Periodic workflow jobs."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.workflow import services


@shared_task(
    acks_late=True,
    name="workflow.escalate_overdue_activities",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def escalate_overdue_activities() -> int:
    """Hand suspended activities past their due date to their responsible user's supervisor.

    Safe to run twice: each activity is re-read under a row lock and moved only while overdue.
    """
    return services.activities_escalate()
