"""E-mail notices: when an activity becomes someone's (new activity, forward, escalation, an
approval passed on to the supervisor), that user gets a plain-text e-mail, sent by a Celery task
after the commit. No address, no e-mail; a failing mail server never breaks the workflow step."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.erp.models import Order
from apps.workflow.models import EventType, WFActivity, WFEventAudit, WFState
from apps.workflow.tasks import activity_notice_send, escalate_overdue_activities
from tests.accounts.helpers import bearer_client
from tests.workflow import mail_backends
from tests.workflow.conftest import (
    BIG_QTY,
    garden_person,
    node_for,
    order_complete,
    order_create,
    supervise,
    user,
)

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = LOCMEM
    settings.DEFAULT_FROM_EMAIL = "workflow@ledgerdoc.test"
    mail_backends.ATTEMPTS.clear()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """The test's transaction never commits: run what the step enqueued on commit, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _big_order(requester, run_on_commit) -> tuple[dict, WFActivity]:
    order = order_create(requester, BIG_QTY)
    with run_on_commit():
        response = order_complete(requester, order["id"])
    assert response.status_code == 200, response.content
    activity = WFActivity.objects.get(record_id=order["id"], table_name="C_Order",
                                      state=WFState.SUSPENDED)
    return order, activity


def _recipients() -> list[str]:
    return [address for message in mail.outbox for address in message.to]


def test_new_activity_mails_the_approver(garden_user, garden_admin, run_on_commit):
    order, activity = _big_order(garden_user, run_on_commit)

    assert _recipients() == ["gardenadmin@example.com"]
    [message] = mail.outbox
    document_no = order["DocumentNo"]
    assert message.from_email == "workflow@ledgerdoc.test"
    assert message.subject == f"Workflow: Approve order - C_Order {document_no}"
    assert "Approve order" in message.body
    assert f"Record: C_Order {document_no}" in message.body
    assert f"Summary: {activity.summary}" in message.body
    assert document_no in activity.summary
    assert "Why you: a new activity of this workflow" in message.body
    assert "http" not in message.body and "<" not in message.body
    assert not message.alternatives  # plain text only


def test_every_new_user_node_mails_its_user(garden_user, garden_admin, run_on_commit):
    order, activity = _big_order(garden_user, run_on_commit)
    with run_on_commit():
        garden_admin.put(f"/api/v1/workflow/approve/{activity.pk}", {}, format="json")
    choice = node_for(garden_admin, order["id"])
    with run_on_commit():
        garden_admin.put(f"/api/v1/workflow/setuserchoice/{choice['id']}", {"value": "3"},
                         format="json")
    assert [(m.to, m.subject.split(" - ")[0]) for m in mail.outbox] == [
        (["gardenadmin@example.com"], "Workflow: Approve order"),
        (["gardenadmin@example.com"], "Workflow: Set order priority"),
        (["gardenuser@example.com"], "Workflow: Order approved"),
    ]


def test_forward_mails_the_new_user(garden_user, garden_admin, run_on_commit):
    clerk = garden_person("Clerk", limit=Decimal(100000), supervisor=user("GardenAdmin"))
    _, activity = _big_order(garden_user, run_on_commit)
    mail.outbox.clear()

    with run_on_commit():
        response = garden_admin.put(f"/api/v1/workflow/forward/{activity.pk}",
                                    {"userTo": clerk.pk, "message": "please check"},
                                    format="json")
    assert response.status_code == 200, response.content
    assert _recipients() == ["clerk@example.com"]
    assert "Why you: forwarded by GardenAdmin: please check" in mail.outbox[0].body
    assert mail.outbox[0].subject.startswith("Workflow: Approve order - C_Order ")


def test_escalation_mails_the_supervisor(garden_user, garden_admin, run_on_commit):
    clerk = garden_person("Clerk", limit=Decimal(100000), supervisor=user("GardenAdmin"))
    _, activity = _big_order(garden_user, run_on_commit)
    with run_on_commit():
        garden_admin.put(f"/api/v1/workflow/forward/{activity.pk}", {"userTo": clerk.pk},
                         format="json")
    mail.outbox.clear()
    WFActivity.objects.filter(pk=activity.pk).update(due=timezone.now() - timedelta(minutes=5))

    with run_on_commit():
        assert escalate_overdue_activities.delay().get() == 1
    assert _recipients() == ["gardenadmin@example.com"]
    assert "Why you: escalated: Overdue since" in mail.outbox[0].body

    # overdue again but nobody above GardenAdmin: nothing changes hands, nobody is mailed
    mail.outbox.clear()
    WFActivity.objects.filter(pk=activity.pk).update(due=timezone.now() - timedelta(minutes=5))
    with run_on_commit():
        assert escalate_overdue_activities.delay().get() == 0
    assert mail.outbox == []


def test_approval_passed_to_supervisor_mails_the_supervisor(garden_user, demo, run_on_commit):
    garden_person("Manager", limit=Decimal(5000), supervisor=user("GardenAdmin"))
    supervise("GardenUser", user("Manager"))
    _, activity = _big_order(garden_user, run_on_commit)
    assert _recipients() == ["manager@example.com"]
    mail.outbox.clear()

    with run_on_commit():
        response = bearer_client("Manager").put(f"/api/v1/workflow/approve/{activity.pk}",
                                                {"message": "ok from me"}, format="json")
    assert response.status_code == 200, response.content
    assert _recipients() == ["gardenadmin@example.com"]
    body = mail.outbox[0].body
    assert "Why you: forwarded by Manager: Approved by Manager, amount 12350.00" in body


def test_no_mail_when_the_user_has_no_address(garden_user, garden_admin, run_on_commit):
    user("GardenAdmin").__class__.objects.filter(username="GardenAdmin").update(email="")
    quiet = garden_person("Quiet", limit=None, email="")
    order, activity = _big_order(garden_user, run_on_commit)
    assert activity.responsible.username == "GardenAdmin"  # the activity is there all the same
    assert mail.outbox == []

    with run_on_commit():
        response = garden_admin.put(f"/api/v1/workflow/forward/{activity.pk}",
                                    {"userTo": quiet.pk}, format="json")
    assert response.status_code == 200, response.content
    assert mail.outbox == []
    assert node_for(bearer_client("Quiet"), order["id"])["id"] == activity.pk


def test_a_notice_no_longer_due_is_not_sent_nor_sent_twice(garden_user, garden_admin,
                                                           run_on_commit):
    _, activity = _big_order(garden_user, run_on_commit)
    event = WFEventAudit.objects.get(activity=activity, event_type=EventType.ACTIVITY_SUSPENDED)
    admin_id = user("GardenAdmin").pk
    mail.outbox.clear()

    # a redelivered task (acks_late) does not mail the same event again
    assert activity_notice_send.delay(activity.pk, admin_id, event.pk).get() is False
    assert mail.outbox == []
    # the activity is done by the time the task runs: nothing to tell
    garden_admin.put(f"/api/v1/workflow/approve/{activity.pk}", {}, format="json")
    mail_backends.ATTEMPTS.clear()
    assert activity_notice_send.delay(activity.pk, admin_id, event.pk + 10_000).get() is False
    # gone altogether
    assert activity_notice_send.delay(10**9, admin_id, event.pk + 10_001).get() is False
    assert mail.outbox == []


def test_a_refused_mail_is_logged_and_the_step_stands(settings, garden_user, garden_admin,
                                                      run_on_commit, caplog):
    settings.EMAIL_BACKEND = "tests.workflow.mail_backends.RefusingBackend"
    with caplog.at_level(logging.ERROR, logger="ledgerdoc.workflow"):
        order, activity = _big_order(garden_user, run_on_commit)
    assert mail_backends.ATTEMPTS == ["gardenadmin@example.com"]  # tried once: not transient
    assert "workflow notice for activity" in caplog.text
    assert Order.objects.get(pk=order["id"]).doc_status == Order.DocStatus.IN_PROGRESS
    assert activity.responsible.username == "GardenAdmin"


def test_an_unreachable_server_is_left_to_retries_and_the_step_stands(
    settings, garden_user, garden_admin, run_on_commit
):
    """A transient error goes up to the task's autoretry (a worker retries it with backoff; run
    eagerly, the retry is raised and logged by the robust on-commit hook)."""
    settings.EMAIL_BACKEND = "tests.workflow.mail_backends.UnreachableBackend"
    order, activity = _big_order(garden_user, run_on_commit)
    assert set(mail_backends.ATTEMPTS) == {"gardenadmin@example.com"}
    assert activity.state == WFState.SUSPENDED
    assert node_for(garden_admin, order["id"])["id"] == activity.pk


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_server_never_fails_the_request(settings, demo):
    """Committed for real: the notice runs (eagerly) inside the request, after its commit."""
    clerk = garden_person("Clerk", limit=None)
    for backend in ("RefusingBackend", "UnreachableBackend"):
        settings.EMAIL_BACKEND = f"tests.workflow.mail_backends.{backend}"
        mail_backends.ATTEMPTS.clear()
        requester = bearer_client("GardenUser")
        order = order_create(requester, BIG_QTY)
        response = order_complete(requester, order["id"])
        assert response.status_code == 200, (backend, response.content)
        activity = WFActivity.objects.get(record_id=order["id"], state=WFState.SUSPENDED)
        response = bearer_client("GardenAdmin").put(
            f"/api/v1/workflow/forward/{activity.pk}", {"userTo": clerk.pk}, format="json"
        )
        assert response.status_code == 200, (backend, response.content)
        activity.refresh_from_db()
        assert (activity.state, activity.responsible) == (WFState.SUSPENDED, clerk)
        assert mail_backends.ATTEMPTS[0] == "gardenadmin@example.com", backend
        assert mail_backends.ATTEMPTS[-1] == "clerk@example.com", backend
