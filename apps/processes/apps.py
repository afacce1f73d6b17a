from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "apps.processes"
    label = "processes"
    verbose_name = "Processes, reports and printing"

    def ready(self) -> None:
        from apps.processes import printing

        printing.register_print_format("C_Order", printing.order_html)
