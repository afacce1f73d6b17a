"""Workflow jobs: the periodic escalation and the e-mail notices."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.workflow import notices, services


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


@shared_task(
    acks_late=True,
    name="workflow.activity_notice_send",
    autoretry_for=(OperationalError, *notices.TRANSIENT_MAIL_ERRORS),
    retry_backoff=True,
    max_retries=3,
)
def activity_notice_send(activity_id: int, user_id: int, event_id: int) -> bool:
    """E-mail a user that an activity is now theirs; quietly nothing if it no longer is."""
    return notices.activity_notice_send(activity_id=activity_id, user_id=user_id, event_id=event_id)
