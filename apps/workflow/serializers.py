"""Wire shapes of /api/v1/workflow (iDempiere REST's workflow API)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.workflow import records_bridge
from apps.workflow.models import WFActivity, WFEventAudit


class MessageInputSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


_ID_OR_KEY = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "minLength": 1}]}


@extend_schema_field({
    "oneOf": [
        *_ID_OR_KEY["oneOf"],
        {"type": "object", "properties": {"id": _ID_OR_KEY}, "required": ["id"]},
    ],
    "nullable": False,
})
class UserRefField(serializers.JSONField):
    """A user: id, uuid or name, or ``{"id": ...}`` as PO-JSON renders a reference; never null."""


@extend_schema_field({
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "number"},
        {"type": "boolean"},
        {
            "type": "object",
            "description": "A list value as PO-JSON renders it: {\"id\": ...} or {\"value\": ...}.",
            "properties": {"id": _ID_OR_KEY, "value": _ID_OR_KEY},
        },
    ],
    "nullable": False,
})
class ChoiceValueField(serializers.JSONField):
    """The value chosen at a user-choice node; never null, never a list."""


class ForwardInputSerializer(MessageInputSerializer):
    userTo = UserRefField(help_text="Id, uuid or user name of an active user of the client.")


class UserChoiceInputSerializer(MessageInputSerializer):
    value = ChoiceValueField(help_text="A value of the node column's list (or a string).")


HISTORY_PROPERTIES = {
    "id": {"type": "integer"},
    "uid": {"type": "string", "format": "uuid"},
    "created": {"type": "string", "format": "date-time"},
    "event": {"type": "string"},
    "eventType": {"type": "string"},
    "user": {"type": "string", "nullable": True},
    "userId": {"type": "integer", "nullable": True},
    "nodeName": {"type": "string", "nullable": True},
    "state": {"type": "string"},
    "columnName": {"type": "string"},
    "oldValue": {"type": "string"},
    "newValue": {"type": "string"},
    "message": {"type": "string"},
}


def history_record(event: WFEventAudit) -> dict[str, Any]:
    return {
        "id": event.id,
        "uid": str(event.uid),
        "created": event.created.isoformat(),
        "event": event.get_event_type_display(),
        "eventType": event.event_type,
        "user": event.user.username if event.user else None,
        "userId": event.user_id,
        "nodeName": event.node.name if event.node else None,
        "state": event.state,
        "columnName": event.column_name,
        "oldValue": event.old_value,
        "newValue": event.new_value,
        "message": event.message,
    }


def activity_bodies(activities: list[WFActivity]) -> list[dict[str, Any]]:
    table_ids = records_bridge.ad_table_ids({a.table_name for a in activities})
    return [activity_body(a, table_ids) for a in activities]


def activity_body(activity: WFActivity, table_ids: dict[str, int] | None = None) -> dict[str, Any]:
    node = activity.node
    return {
        "id": activity.id,
        "uid": str(activity.uid),
        "model-name": activity.table_name.lower(),
        "node-name": node.name,
        "node-description": node.description,
        "node-type": node.get_action_display(),
        "column-name": node.column_name,
        "priority": activity.priority,
        "summary": activity.summary,
        "node-help": activity.help or node.help,
        "state": activity.state,
        "responsible-id": activity.responsible_id,
        "due": activity.due.isoformat() if activity.due else None,
        "history-records": [history_record(e) for e in activity.process.events.all()],
        "ad_table_id": (
            table_ids if table_ids is not None
            else records_bridge.ad_table_ids({activity.table_name})
        ).get(activity.table_name.lower()),
        "record_id": activity.record_id,
    }


NODE_PROPERTIES = {
    "id": {"type": "integer"},
    "uid": {"type": "string", "format": "uuid"},
    "model-name": {"type": "string"},
    "node-name": {"type": "string"},
    "node-description": {"type": "string"},
    "node-type": {"type": "string"},
    "column-name": {"type": "string"},
    "priority": {"type": "integer"},
    "summary": {"type": "string"},
    "node-help": {"type": "string"},
    "state": {"type": "string"},
    "responsible-id": {"type": "integer", "nullable": True},
    "due": {"type": "string", "format": "date-time", "nullable": True},
    "history-records": {
        "type": "array", "items": {"type": "object", "properties": HISTORY_PROPERTIES}
    },
    "ad_table_id": {"type": "integer", "nullable": True},
    "record_id": {"type": "integer"},
}

NODES_SCHEMA = {
    "type": "object",
    "properties": {"nodes": {"type": "array", "items": {"type": "object", "properties": NODE_PROPERTIES}}},
}

ACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "msg": {"type": "string"},
        "node": {"type": "object", "properties": NODE_PROPERTIES},
    },
}
