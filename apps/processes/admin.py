from django.contrib import admin

from apps.processes.models import PInstance, Process, ProcessAccess, ProcessPara, ReportFile


class ProcessParaInline(admin.TabularInline):
    model = ProcessPara
    extra = 0
    fields = ("seq_no", "column_name", "name", "reference", "ref_table", "is_mandatory", "is_range",
              "default_value", "default_value2", "client", "is_active")


class ProcessAccessInline(admin.TabularInline):
    model = ProcessAccess
    extra = 0
    fields = ("role", "is_read_write", "is_active")


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ("value", "name", "is_report", "handler", "client", "is_active")
    list_filter = ("is_report", "is_active", "client")
    search_fields = ("value", "name")
    inlines = (ProcessParaInline, ProcessAccessInline)


@admin.register(ProcessPara)
class ProcessParaAdmin(admin.ModelAdmin):
    list_display = ("process", "seq_no", "column_name", "name", "reference", "is_mandatory", "is_range")
    list_filter = ("process", "reference")


@admin.register(ProcessAccess)
class ProcessAccessAdmin(admin.ModelAdmin):
    list_display = ("role", "process", "is_read_write", "is_active")
    list_filter = ("role", "is_read_write")


@admin.register(PInstance)
class PInstanceAdmin(admin.ModelAdmin):
    list_display = ("id", "process", "user", "client", "state", "is_run_as_job", "is_error", "created")
    list_filter = ("state", "is_run_as_job", "is_error", "client")
    readonly_fields = ("process", "user", "role", "parameters", "report_type", "state", "summary",
                       "is_error", "logs", "errors", "started_at", "finished_at", "attempts")


@admin.register(ReportFile)
class ReportFileAdmin(admin.ModelAdmin):
    list_display = ("file_name", "user", "client", "content_type", "size", "expires_at")
    list_filter = ("client", "content_type")
    readonly_fields = ("instance", "user", "file_name", "content_type", "size", "sha256",
                       "storage_key", "expires_at")
