from django.contrib import admin

from apps.records.models import Column, Form, Reference, RefList, Table, ValRule


class ColumnInline(admin.TabularInline):
    model = Column
    extra = 0
    fields = (
        "seq_no", "column_name", "name", "data_type", "reference_table", "reference",
        "is_key", "is_mandatory", "is_updatable", "is_identifier", "is_secret", "default_value",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = ("id", "table_name", "name", "access_level", "app_label", "is_active")
    list_filter = ("access_level", "app_label", "is_active")
    search_fields = ("table_name", "name", "description")
    inlines = (ColumnInline,)


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = (
        "id", "table", "column_name", "data_type", "reference_table", "is_mandatory",
        "is_updatable", "is_identifier", "is_secret", "default_value",
    )
    list_filter = ("data_type", "is_mandatory", "is_updatable", "is_identifier", "is_secret", "table")
    search_fields = ("column_name", "name", "table__table_name")
    list_select_related = ("table",)
    # Declared by the owning app at registration (register_table(defaults=...)), synced here.
    readonly_fields = ("default_value", "default_kind")


class RefListInline(admin.TabularInline):
    model = RefList
    extra = 0
    fields = ("seq_no", "value", "name", "is_active")


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "validation_type", "is_active")
    list_filter = ("validation_type", "is_active")
    search_fields = ("name", "description")
    inlines = (RefListInline,)


@admin.register(RefList)
class RefListAdmin(admin.ModelAdmin):
    list_display = ("id", "reference", "value", "name", "seq_no", "is_active")
    list_filter = ("reference", "is_active")
    search_fields = ("value", "name", "reference__name")
    list_select_related = ("reference",)


@admin.register(ValRule)
class ValRuleAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "code", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "description", "code")


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "classname", "access_level", "is_active")
    list_filter = ("access_level", "is_active")
    search_fields = ("name", "description", "classname")
