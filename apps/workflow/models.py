"""Workflow definitions (AD_Workflow, AD_WF_Node, AD_WF_NodeNext) and their runs (AD_WF_Process,
AD_WF_Activity, AD_WF_EventAudit), as in iDempiere.

A workflow is bound to a table (by name, as registered with ``apps.records``). A process is one run
of a workflow for one record; an activity is one node of that run; the event audit is its history.
No logic lives here: the engine is ``apps.workflow.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import TenantModel


class WFState(models.TextChoices):
    """iDempiere's WFState."""

    NOT_STARTED = "ON", "Not started"
    RUNNING = "OR", "Running"
    SUSPENDED = "OS", "Suspended"
    COMPLETED = "CC", "Completed"
    ABORTED = "CA", "Aborted"
    TERMINATED = "CT", "Terminated"

    @classmethod
    def closed(cls) -> tuple[str, ...]:
        return (cls.COMPLETED, cls.ABORTED, cls.TERMINATED)


class NodeAction(models.TextChoices):
    APPROVAL = "AP", "Approval (Yes/No column)"
    USER_CHOICE = "UC", "User choice (list or string column)"
    NOTICE = "NT", "Notice to acknowledge"
    SET_VALUE = "SV", "Set value (automatic)"
    DOC_ACTION = "DA", "Document action (automatic)"

    @classmethod
    def user_actions(cls) -> tuple[str, ...]:
        return (cls.APPROVAL, cls.USER_CHOICE, cls.NOTICE)


class ResponsibleType(models.TextChoices):
    INVOKER = "I", "Invoker (who started the workflow)"
    SUPERVISOR = "S", "Invoker's supervisor"
    PREVIOUS_ACTOR = "P", "Who acted on the previous user node"
    HUMAN = "H", "A given user"


class Workflow(TenantModel):
    """A workflow definition (AD_Workflow), bound to one table; client 0 (System) = every client."""

    value = models.CharField("search key", db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    table_name = models.CharField(
        db_column="TableName", max_length=60,
        help_text="Table (as exposed by /api/v1/models) whose records this workflow runs on.",
    )
    start_node = models.ForeignKey(
        "WFNode", db_column="AD_WF_Node_ID", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", help_text="First node; empty: the node with the lowest sequence.",
    )
    priority = models.PositiveSmallIntegerField(db_column="Priority", default=5)
    duration_hours = models.PositiveIntegerField(
        db_column="DurationLimit", null=True, blank=True,
        help_text="Default hours a user node may wait before it is escalated; empty: never.",
    )

    class Meta:
        db_table = "AD_Workflow"
        ordering = ("id",)
        constraints = (
            models.UniqueConstraint(fields=("client", "value"), name="ad_workflow_client_value_uniq"),
        )

    def __str__(self) -> str:
        return self.name


class WFNode(TenantModel):
    """One step of a workflow (AD_WF_Node)."""

    workflow = models.ForeignKey(
        Workflow, db_column="AD_Workflow_ID", on_delete=models.CASCADE, related_name="nodes"
    )
    seq_no = models.PositiveIntegerField(db_column="SeqNo", default=10)
    value = models.CharField("search key", db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    action = models.CharField(db_column="Action", max_length=2, choices=NodeAction.choices)
    column_name = models.CharField(
        db_column="ColumnName", max_length=60, blank=True,
        help_text="Approval: a Yes/No column; user choice: a list or string column; "
                  "set value: the column to set.",
    )
    attribute_value = models.CharField(
        db_column="AttributeValue", max_length=255, blank=True,
        help_text="Set value: the value; document action: the action code (e.g. CO).",
    )
    responsible_type = models.CharField(
        db_column="ResponsibleType", max_length=1, choices=ResponsibleType.choices,
        default=ResponsibleType.INVOKER,
    )
    responsible_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", help_text="For responsible type 'a given user'.",
    )
    priority = models.PositiveSmallIntegerField(
        db_column="Priority", null=True, blank=True, help_text="Empty: the workflow's priority."
    )
    duration_hours = models.PositiveIntegerField(
        db_column="DurationLimit", null=True, blank=True,
        help_text="Hours before escalation; empty: the workflow's limit.",
    )
    message = models.CharField(
        db_column="TextMsg", max_length=255, blank=True,
        help_text="Summary shown to the user; placeholders @DocumentNo@, @GrandTotal@...",
    )

    class Meta:
        db_table = "AD_WF_Node"
        ordering = ("workflow_id", "seq_no", "id")
        verbose_name = "workflow node"
        constraints = (
            models.UniqueConstraint(fields=("workflow", "value"), name="ad_wf_node_value_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.workflow.name}: {self.name}" if self.workflow_id else self.name

    @property
    def is_user_node(self) -> bool:
        return self.action in NodeAction.user_actions()


class WFNodeTransition(TenantModel):
    """A transition to the next node (AD_WF_NodeNext); taken when its condition holds.

    ``condition`` is written in the records query language (``IsApproved eq true``); empty = always.
    Transitions are tried in sequence order and the first whose condition holds is followed.
    """

    node = models.ForeignKey(
        WFNode, db_column="AD_WF_Node_ID", on_delete=models.CASCADE, related_name="transitions"
    )
    next_node = models.ForeignKey(
        WFNode, db_column="AD_WF_Next_ID", on_delete=models.CASCADE, related_name="incoming"
    )
    seq_no = models.PositiveIntegerField(db_column="SeqNo", default=10)
    condition = models.CharField(db_column="Condition", max_length=1000, blank=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)

    class Meta:
        db_table = "AD_WF_NodeNext"
        ordering = ("node_id", "seq_no", "id")
        verbose_name = "workflow transition"

    def __str__(self) -> str:
        cond = f" [{self.condition}]" if self.condition else ""
        return f"{self.node.name} → {self.next_node.name}{cond}"


class WFProcess(TenantModel):
    """One run of a workflow for one record (AD_WF_Process)."""

    workflow = models.ForeignKey(
        Workflow, db_column="AD_Workflow_ID", on_delete=models.PROTECT, related_name="processes"
    )
    table_name = models.CharField(db_column="TableName", max_length=60)
    record_id = models.BigIntegerField(db_column="Record_ID")
    state = models.CharField(
        db_column="WFState", max_length=2, choices=WFState.choices, default=WFState.NOT_STARTED
    )
    initiator = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.PROTECT,
        related_name="+", help_text="Who started the workflow (the requester).",
    )
    priority = models.PositiveSmallIntegerField(db_column="Priority", default=5)
    message = models.CharField(db_column="TextMsg", max_length=2000, blank=True)
    processed = models.BooleanField(db_column="Processed", default=False)

    class Meta:
        db_table = "AD_WF_Process"
        ordering = ("-id",)
        verbose_name = "workflow process"
        verbose_name_plural = "workflow processes"
        indexes = (
            models.Index(fields=("table_name", "record_id"), name="ad_wf_process_record_idx"),
        )

    def __str__(self) -> str:
        return f"{self.workflow.name} #{self.id} ({self.table_name} {self.record_id})"


class WFActivity(TenantModel):
    """One node of a process (AD_WF_Activity); user nodes wait here, suspended, for their user."""

    process = models.ForeignKey(
        WFProcess, db_column="AD_WF_Process_ID", on_delete=models.CASCADE, related_name="activities"
    )
    node = models.ForeignKey(
        WFNode, db_column="AD_WF_Node_ID", on_delete=models.PROTECT, related_name="activities"
    )
    workflow = models.ForeignKey(
        Workflow, db_column="AD_Workflow_ID", on_delete=models.PROTECT, related_name="+"
    )
    table_name = models.CharField(db_column="TableName", max_length=60)
    record_id = models.BigIntegerField(db_column="Record_ID")
    state = models.CharField(
        db_column="WFState", max_length=2, choices=WFState.choices, default=WFState.NOT_STARTED
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.PROTECT, null=True,
        blank=True, related_name="wf_activities",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="Actor_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", help_text="Who completed the activity.",
    )
    priority = models.PositiveSmallIntegerField(db_column="Priority", default=5)
    summary = models.CharField(db_column="TextMsg", max_length=2000, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    due = models.DateTimeField(db_column="EndWaitTime", null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(db_column="DynPriorityStart", default=0)
    processed = models.BooleanField(db_column="Processed", default=False)

    class Meta:
        db_table = "AD_WF_Activity"
        ordering = ("-priority", "id")
        verbose_name = "workflow activity"
        verbose_name_plural = "workflow activities"
        indexes = (
            models.Index(fields=("responsible", "state"), name="ad_wf_activity_user_idx"),
            models.Index(fields=("state", "due"), name="ad_wf_activity_due_idx"),
        )

    def __str__(self) -> str:
        return f"{self.node.name} #{self.id} ({self.get_state_display()})"


class EventType(models.TextChoices):
    PROCESS_STARTED = "PS", "Process started"
    PROCESS_COMPLETED = "PC", "Process completed"
    ACTIVITY_SUSPENDED = "AS", "Waiting for user"
    APPROVED = "AP", "Approved"
    REJECTED = "RJ", "Rejected"
    FORWARDED = "FW", "Forwarded"
    ACKNOWLEDGED = "AK", "Acknowledged"
    USER_CHOICE = "UC", "User choice"
    VALUE_SET = "SV", "Value set"
    DOC_ACTION = "DA", "Document action"
    ESCALATED = "ES", "Escalated"


class WFEventAudit(TenantModel):
    """History of a process (AD_WF_EventAudit): who did what, when, with which values."""

    process = models.ForeignKey(
        WFProcess, db_column="AD_WF_Process_ID", on_delete=models.CASCADE, related_name="events"
    )
    activity = models.ForeignKey(
        WFActivity, db_column="AD_WF_Activity_ID", on_delete=models.CASCADE, null=True, blank=True,
        related_name="events",
    )
    node = models.ForeignKey(
        WFNode, db_column="AD_WF_Node_ID", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    table_name = models.CharField(db_column="TableName", max_length=60)
    record_id = models.BigIntegerField(db_column="Record_ID")
    event_type = models.CharField(db_column="EventType", max_length=2, choices=EventType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", help_text="Who caused the event (empty: the system).",
    )
    state = models.CharField(db_column="WFState", max_length=2, choices=WFState.choices, blank=True)
    column_name = models.CharField(db_column="AttributeName", max_length=60, blank=True)
    old_value = models.CharField(db_column="OldValue", max_length=2000, blank=True)
    new_value = models.CharField(db_column="NewValue", max_length=2000, blank=True)
    message = models.CharField(db_column="TextMsg", max_length=2000, blank=True)

    class Meta:
        db_table = "AD_WF_EventAudit"
        ordering = ("id",)
        verbose_name = "workflow event"

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} #{self.process_id} @ {self.created:%Y-%m-%d %H:%M}"
