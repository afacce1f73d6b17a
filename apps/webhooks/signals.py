"""Where the events come from, hooked in without touching the apps that make them:

- ``record.*``: Django's ``post_save``/``post_delete`` of every model the records registry exposes
  (whatever path wrote it: the API, the admin, a service);
- ``document.completed``: a document row (with ``DocStatus``) that becomes CO;
- ``workflow.activity.*``: an AD_WF_Activity created or changing state;
- ``upload.completed``: the uploads engine's completion hook (after commit);
- ``document.file.created``: a DMS file (not a folder) created.

Payloads are thin (ids, table, state): a receiver reads the record through the API with its own
credentials, so a webhook never carries more than the subscription's client could read anyway.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save

from apps.webhooks.events import emit

DOC_COMPLETED = "CO"
ACTIVITY_EVENTS = {"OS": "suspended", "CC": "completed", "CA": "aborted", "CT": "aborted"}
# Models whose state column is read before a save that writes it (filled by ``connect``).
_STATEFUL: dict[type, tuple[str, ...]] = {}


def _spec(instance: Any):
    from apps.records.registry import table_spec_for_model

    return table_spec_for_model(type(instance))


def _record_data(spec: Any, instance: Any) -> dict[str, Any]:
    data = {"tableName": spec.table_name, "model-name": spec.key, "id": instance.pk}
    uid = getattr(instance, "uid", None)
    if uid is not None:
        data["uid"] = str(uid)
    return data


def _writes(attname: str, update_fields: Any) -> bool:
    return update_fields is None or attname in update_fields


def _remember_state(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None,
                    **kwargs: Any) -> None:
    """Before a save of a document or an activity that writes its state: the stored state, to see
    a change after it (one indexed read; none for saves of other columns)."""
    if raw or instance.pk is None:
        return
    for attname in _STATEFUL.get(type(instance), ()):
        if _writes(attname, update_fields):
            old = type(instance)._base_manager.filter(pk=instance.pk).values_list(attname, flat=True).first()
            instance.__dict__[f"_webhooks_old_{attname}"] = old



def record_saved(sender: Any, instance: Any, created: bool, raw: bool = False, update_fields: Any = None,
                 **kwargs: Any) -> None:
    if raw:
        return
    spec = _spec(instance)
    client_id = getattr(instance, "client_id", None)
    if spec is not None:
        event = "record.created" if created else "record.updated"
        emit(client_id=client_id, event_type=event, data=_record_data(spec, instance), table=spec.key)
        status = getattr(instance, "doc_status", None)
        old = instance.__dict__.pop("_webhooks_old_doc_status", None)
        if status == DOC_COMPLETED and _writes("doc_status", update_fields) and old != DOC_COMPLETED:
            data = {**_record_data(spec, instance), "DocStatus": status}
            if getattr(instance, "document_no", None):
                data["DocumentNo"] = instance.document_no
            emit(client_id=client_id, event_type="document.completed", data=data, table=spec.key)


def record_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    spec = _spec(instance)
    if spec is not None:
        emit(client_id=getattr(instance, "client_id", None), event_type="record.deleted",
             data=_record_data(spec, instance), table=spec.key)


def activity_saved(sender: Any, instance: Any, created: bool, raw: bool = False, update_fields: Any = None,
                   **kwargs: Any) -> None:
    if raw:
        return
    old = instance.__dict__.pop("_webhooks_old_state", None)
    if created:
        event = "workflow.activity.created"
    elif not _writes("state", update_fields) or old == instance.state:
        return
    else:
        event = "workflow.activity." + ACTIVITY_EVENTS.get(instance.state, "updated")
    emit(client_id=instance.client_id, event_type=event, data={
        "id": instance.pk, "uid": str(instance.uid), "state": instance.state,
        "tableName": instance.table_name, "record_id": instance.record_id,
        "node": instance.node.name if instance.node_id else None,
        "responsible": instance.responsible_id, "summary": instance.summary,
    })


def dms_file_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not created or instance.is_directory:
        return
    emit(client_id=instance.client_id, event_type="document.file.created", data={
        "id": instance.pk, "uid": str(instance.uid), "name": instance.name,
        "contentType": instance.content_type, "size": instance.size,
        "tableName": instance.table_name or None, "record_id": instance.record_id,
    })


def upload_completed(session: Any) -> None:
    emit(client_id=session.client_id, event_type="upload.completed", data={
        "uploadId": str(session.uid), "fileName": session.file_name, "contentType": session.content_type,
        "size": session.size, "sha256": session.assembled_sha256 or session.sha256,
        "uploadLocation": session.location, "dialect": session.dialect,
    })


def connect() -> None:
    from apps.dms.models import DMSFile
    from apps.erp.models import Order
    from apps.uploads.finalize import register_completion_hook
    from apps.workflow.models import WFActivity

    _STATEFUL[Order] = ("doc_status",)
    _STATEFUL[WFActivity] = ("state",)
    for model in _STATEFUL:
        pre_save.connect(_remember_state, sender=model, dispatch_uid=f"webhooks_state_{model._meta.label}")
    post_save.connect(record_saved, dispatch_uid="webhooks_record_saved")
    post_delete.connect(record_deleted, dispatch_uid="webhooks_record_deleted")
    post_save.connect(activity_saved, sender=WFActivity, dispatch_uid="webhooks_activity_saved")
    post_save.connect(dms_file_saved, sender=DMSFile, dispatch_uid="webhooks_dms_file_saved")
    register_completion_hook(upload_completed)
