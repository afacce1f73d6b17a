from importlib.util import find_spec

from django.apps import AppConfig
from django.conf import settings

ESCALATION_BEAT_KEY = "workflow-escalate-overdue-activities"
ESCALATION_INTERVAL_SECONDS = 300.0
APPROVAL_TABLES = ("C_Order",)


class WorkflowConfig(AppConfig):
    name = "apps.workflow"
    label = "workflow"
    verbose_name = "Workflow"

    def ready(self) -> None:
        self._register_approval_starters()
        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.setdefault(
                ESCALATION_BEAT_KEY,
                {
                    "task": "workflow.escalate_overdue_activities",
                    "schedule": ESCALATION_INTERVAL_SECONDS,
                },
            )

    @staticmethod
    def _register_approval_starters() -> None:
        # records may not offer the registry yet (parallel work): then there is nothing to hook.
        try:
            from apps.records.registry import register_approval_starter
        except ImportError:
            return
        from apps.workflow.services import approval_starter

        for table_name in APPROVAL_TABLES:
            register_approval_starter(table_name, approval_starter)
        if find_spec("apps.erp.services") is not None:
            from apps.workflow.registry import register_approval_handlers

            # erp's workflow callbacks, named (not imported): erp and workflow are siblings.
            register_approval_handlers(
                "C_Order", "IsApproved",
                approve="apps.erp.services.order_approve_and_complete",
                reject="apps.erp.services.order_reject",
            )
