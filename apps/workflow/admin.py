from django.contrib import admin

from apps.workflow.models import (
    WFActivity,
    WFEventAudit,
    WFNode,
    WFNodeTransition,
    WFProcess,
    Workflow,
)


class WFNodeInline(admin.StackedInline):
    model = WFNode
    extra = 0
    fields = (
        ("seq_no", "value", "name", "action"),
        ("column_name", "attribute_value"),
        ("responsible_type", "responsible_user", "priority", "duration_hours"),
        "message", "description", "help", ("client", "org", "is_active"),
    )
    raw_id_fields = ("responsible_user",)


class WFNodeTransitionInline(admin.TabularInline):
    model = WFNodeTransition
    fk_name = "node"
    extra = 0
    fields = ("seq_no", "next_node", "condition", "description", "client", "org", "is_active")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "next_node":
            node_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            node = WFNode.objects.filter(pk=node_id).first() if node_id else None
            if node is not None:
                kwargs["queryset"] = WFNode.objects.filter(workflow_id=node.workflow_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ("id", "value", "name", "table_name", "client", "priority", "duration_hours",
                    "is_active")
    list_filter = ("client", "table_name", "is_active")
    search_fields = ("value", "name", "description", "table_name")
    inlines = (WFNodeInline,)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "start_node":
            wf_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = WFNode.objects.filter(workflow_id=wf_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(WFNode)
class WFNodeAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "seq_no", "value", "name", "action", "column_name",
                    "responsible_type", "is_active")
    list_filter = ("workflow", "action", "responsible_type", "client", "is_active")
    search_fields = ("value", "name", "description", "column_name", "workflow__name")
    raw_id_fields = ("responsible_user",)
    inlines = (WFNodeTransitionInline,)


@admin.register(WFNodeTransition)
class WFNodeTransitionAdmin(admin.ModelAdmin):
    list_display = ("id", "node", "next_node", "seq_no", "condition", "is_active")
    list_filter = ("node__workflow", "client", "is_active")
    search_fields = ("condition", "description", "node__name", "next_node__name")


class WFEventAuditInline(admin.TabularInline):
    model = WFEventAudit
    extra = 0
    can_delete = False
    fields = ("created", "event_type", "user", "node", "state", "column_name", "old_value",
              "new_value", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class WFActivityInline(admin.TabularInline):
    model = WFActivity
    extra = 0
    can_delete = False
    fields = ("node", "state", "responsible", "actor", "priority", "due", "summary")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WFProcess)
class WFProcessAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "table_name", "record_id", "state", "initiator", "client",
                    "created")
    list_filter = ("state", "workflow", "table_name", "client")
    search_fields = ("table_name", "record_id", "message", "workflow__name", "initiator__username")
    raw_id_fields = ("initiator",)
    inlines = (WFActivityInline, WFEventAuditInline)


@admin.register(WFActivity)
class WFActivityAdmin(admin.ModelAdmin):
    list_display = ("id", "node", "table_name", "record_id", "state", "responsible", "priority",
                    "due", "escalation_level", "client")
    list_filter = ("state", "workflow", "node__action", "client", "processed")
    search_fields = ("summary", "table_name", "record_id", "responsible__username", "node__name")
    raw_id_fields = ("responsible", "actor", "process")
    date_hierarchy = "created"


@admin.register(WFEventAudit)
class WFEventAuditAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "event_type", "process", "node", "user", "column_name",
                    "old_value", "new_value", "client")
    list_filter = ("event_type", "state", "client", "table_name")
    search_fields = ("message", "column_name", "old_value", "new_value", "user__username",
                     "table_name", "record_id")
    raw_id_fields = ("process", "activity", "user")
    date_hierarchy = "created"
