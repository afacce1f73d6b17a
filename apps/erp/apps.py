from django.apps import AppConfig


class ErpConfig(AppConfig):
    name = "apps.erp"
    label = "erp"
    verbose_name = "ERP sample tables"

    def ready(self) -> None:
        from apps.erp.registration import register_erp_tables

        register_erp_tables()
