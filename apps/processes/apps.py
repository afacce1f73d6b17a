from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "apps.processes"
    label = "processes"
    verbose_name = "Processes, reports and printing"

    def ready(self) -> None:
        from django.conf import settings

        from apps.processes import printing, reports
        from apps.processes.registry import register_process_handler

        printing.register_print_format("C_Order", printing.order_html)
        register_process_handler(reports.ORDER_DETAIL, reports.order_detail_report)
        register_process_handler(reports.OPEN_ITEMS, reports.open_items_report)
        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.setdefault(
                "processes-purge-report-files",
                {"task": "apps.processes.tasks.purge_report_files", "schedule": 15 * 60.0},
            )
            schedule.setdefault(
                "processes-requeue-stale-jobs",
                {"task": "apps.processes.tasks.requeue_stale_jobs", "schedule": 60.0},
            )
