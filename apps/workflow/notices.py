"""E-mail notices: tell a user that a workflow activity is now theirs (new, forwarded, escalated).

Sent by the Celery task ``workflow.activity_notice_send`` after the step's commit. A notice is
plain text without links. It is best effort: a permanent failure is logged and dropped, a transient
one (the mail server unreachable) is retried by the task; the workflow step never depends on it.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail

from apps.workflow import records_bridge as records
from apps.workflow.models import EventType, WFActivity, WFEventAudit, WFState

logger = logging.getLogger("ledgerdoc.workflow")

# Worth a retry: the server could not be reached or hung up. Everything else (refused recipient,
# bad credentials, a bug) would fail again the same way.
TRANSIENT_MAIL_ERRORS: tuple[type[Exception], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)
SENT_MARK_SECONDS = 7 * 24 * 3600
SUBJECT_MAX = 200


def _sent_key(event_id: int) -> str:
    return f"workflow:notice-sent:{event_id}"


def activity_notice_send(*, activity_id: int, user_id: int, event_id: int) -> bool:
    """E-mail ``user_id`` about the activity; True when a message went out.

    Quietly nothing when the activity is gone, done or meanwhile someone else's, when the user has
    no e-mail address, or when this event's notice already went out (a redelivered task).
    """
    activity = (
        WFActivity.objects.select_related("node", "workflow", "responsible")
        .filter(pk=activity_id).first()
    )
    if activity is None or activity.state != WFState.SUSPENDED or activity.responsible_id != user_id:
        return False
    user = activity.responsible
    if not user.is_active or not user.email:
        logger.info("workflow notice for activity %s: %s has no e-mail address", activity_id, user)
        return False
    if cache.get(_sent_key(event_id)):
        return False
    event = WFEventAudit.objects.select_related("user").filter(pk=event_id).first()
    subject, body = notice_text(activity, event)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False)
    except TRANSIENT_MAIL_ERRORS:
        raise
    except Exception:
        logger.exception("workflow notice for activity %s to %s failed", activity_id, user.email)
        return False
    cache.set(_sent_key(event_id), True, timeout=SENT_MARK_SECONDS)
    return True


def notice_text(activity: WFActivity, event: WFEventAudit | None) -> tuple[str, str]:
    """Subject and plain-text body (no links) of the notice about ``activity``."""
    user = activity.responsible
    node = activity.node
    record = records.record_label(activity.table_name, activity.record_id)
    subject = " ".join(f"Workflow: {node.name} - {record}".split())[:SUBJECT_MAX]
    lines = [
        f"Hello {user.get_full_name() or user.username},",
        "",
        f"a workflow activity is waiting for you: {node.name}.",
        "",
        f"Workflow: {activity.workflow.name}",
        f"Record: {record}",
        f"Summary: {activity.summary}",
        f"Priority: {activity.priority}",
    ]
    if activity.due is not None:
        lines.append(f"Due: {activity.due:%Y-%m-%d %H:%M} UTC")
    reason = _reason(event)
    if reason:
        lines.append(f"Why you: {reason}")
    if node.help:
        lines += ["", node.help]
    lines += ["", "Open your workflow activities in Ledgerdoc to act on it."]
    return subject, "\n".join(lines) + "\n"


def _reason(event: WFEventAudit | None) -> str:
    if event is None:
        return ""
    if event.event_type == EventType.FORWARDED:
        who = event.user.username if event.user else "someone"
        return f"forwarded by {who}: {event.message}" if event.message else f"forwarded by {who}"
    if event.event_type == EventType.ESCALATED:
        return f"escalated: {event.message}"
    return "a new activity of this workflow"
