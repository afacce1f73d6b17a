from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RecordsConfig(AppConfig):
    name = "apps.records"
    label = "records"
    verbose_name = "Records and data dictionary"

    def ready(self) -> None:
        from django.db.models import CharField, TextField
        from django.db.models.functions import Lower, Upper

        from apps.records import models
        from apps.records.registry import register_table
        from apps.records.sync import post_migrate_sync

        # tolower()/toupper() of $filter compile to the ``__lower``/``__upper`` transforms.
        for field_class in (CharField, TextField):
            field_class.register_lookup(Lower)
            field_class.register_lookup(Upper)

        register_table(models.Table, identifier=("TableName",), description="Exposed tables")
        register_table(models.Column, identifier=("ColumnName",), description="Columns of exposed tables")
        register_table(models.Reference, description="References (lists of values)")
        register_table(models.RefList, identifier=("Value", "Name"), description="Values of list references")
        register_table(models.ValRule, description="Validation rules")
        register_table(models.Form, description="Forms")
        # After every app's migrations: the registry is complete by then.
        post_migrate.connect(post_migrate_sync, dispatch_uid="records.sync_dictionary")
