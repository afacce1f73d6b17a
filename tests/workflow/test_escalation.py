"""Overdue activities go to the responsible user's supervisor (periodic Celery task)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.workflow.apps import ESCALATION_BEAT_KEY
from apps.workflow.models import EventType, WFActivity
from apps.workflow.tasks import escalate_overdue_activities
from tests.workflow.conftest import node_for, nodes_of


def _overdue(activity: WFActivity) -> None:
    WFActivity.objects.filter(pk=activity.pk).update(due=timezone.now() - timedelta(minutes=5))


def test_beat_schedule_has_escalation():
    entry = settings.CELERY_BEAT_SCHEDULE[ESCALATION_BEAT_KEY]
    assert entry["task"] == escalate_overdue_activities.name


def test_activity_gets_a_due_date(approval_activity):
    assert approval_activity.due is not None
    hours = (approval_activity.due - approval_activity.created).total_seconds() / 3600
    assert 23.9 < hours < 24.1


def test_overdue_activity_goes_to_supervisor(garden_admin, big_order, demo_clerk):
    node = node_for(garden_admin, big_order["id"])
    garden_admin.put(f"/api/v1/workflow/forward/{node['id']}", {"userTo": demo_clerk.pk},
                     format="json")
    activity = WFActivity.objects.get(pk=node["id"])
    assert activity.responsible == demo_clerk

    assert escalate_overdue_activities.delay().get() == 0  # not due yet: nothing moves
    _overdue(activity)
    assert escalate_overdue_activities.delay().get() == 1

    activity.refresh_from_db()
    assert activity.responsible.username == "GardenAdmin"  # GardenClerk's supervisor
    assert activity.escalation_level == 1
    assert activity.due > timezone.now()
    assert [n["id"] for n in nodes_of(garden_admin)] == [activity.pk]
    event = activity.events.get(event_type=EventType.ESCALATED)
    assert (event.user, event.old_value, event.new_value) == (None, "GardenClerk", "GardenAdmin")
    assert "escalated to GardenAdmin" in event.message
    history = nodes_of(garden_admin)[0]["history-records"]
    assert history[-1]["eventType"] == EventType.ESCALATED

    # a second run does nothing more: the new due date lies ahead
    assert escalate_overdue_activities.delay().get() == 0


def test_overdue_without_supervisor_stays_and_is_noted(garden_admin, approval_activity):
    _overdue(approval_activity)
    assert escalate_overdue_activities.delay().get() == 0
    approval_activity.refresh_from_db()
    assert approval_activity.responsible.username == "GardenAdmin"
    assert approval_activity.due > timezone.now()  # not re-noted at every beat
    event = approval_activity.events.get(event_type=EventType.ESCALATED)
    assert "no supervisor" in event.message


def test_done_activities_are_not_escalated(garden_admin, approval_activity):
    garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", {}, format="json")
    _overdue(approval_activity)
    assert escalate_overdue_activities.delay().get() == 0
    assert not approval_activity.events.filter(event_type=EventType.ESCALATED).exists()
