"""Outbound webhooks: subscriptions (admin endpoint), Standard Webhooks signatures verified by a
real local receiver (our verifier and the standardwebhooks library), retries, replay, tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from apps.erp.models import BPartner, BPGroup
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.tasks import retry_due_webhooks
from tests.problems import bad_request
from tests.processes.webhook_receiver import Receiver, SignatureError, verify

pytestmark = pytest.mark.django_db
BP = "/api/v1/models/c_bpartner"


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()
    return run


def _subscribe(client, url, events, run_on_commit):
    response = run_on_commit(lambda: client.post("/api/v1/webhooks", {"url": url, "events": events}, format="json"))
    assert response.status_code == 201, response.content
    return response.json()


def _new_partner(client, run_on_commit, name="Webhook Partner"):
    group = BPGroup.objects.filter(client__value="GardenWorld").first()
    body = {"Value": name.replace(" ", ""), "Name": name, "C_BP_Group_ID": group.pk}
    response = run_on_commit(lambda: client.post(BP, body, format="json"))
    assert response.status_code == 201, response.content
    return response.json()


def test_record_created_is_delivered_signed(garden_admin, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["record.created:C_BPartner"], run_on_commit)
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["record.created:c_bpartner"]
    partner = _new_partner(garden_admin, run_on_commit)
    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert received.path == "/hooks"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"].startswith("msg_")
    assert received.headers["webhook-signature"].startswith("v1,")
    event = verify(hook["secret"], received.headers, received.body)
    assert event["type"] == "record.created"
    assert event["data"] == {"tableName": "C_BPartner", "model-name": "c_bpartner", "id": partner["id"],
                             "uid": partner["uid"]}
    # The standardwebhooks library, as a receiver would use it, agrees.
    assert Webhook(hook["secret"]).verify(received.body, received.headers)["type"] == "record.created"
    # A tampered body or another secret is refused by both.
    with pytest.raises(SignatureError):
        verify(hook["secret"], received.headers, received.body + b" ")
    with pytest.raises(Exception):  # noqa: B017 - the library's own error type
        Webhook("whsec_" + "A" * 32).verify(received.body, received.headers)
    log = garden_admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
    assert [(d["eventType"], d["status"], d["attempts"], d["responseCode"]) for d in log] == [
        ("record.created", "succeeded", 1, 200)
    ]
    assert log[0]["webhook-id"] == received.headers["webhook-id"]


def test_only_subscribed_events_and_tables(garden_admin, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["record.updated:c_bpartner", "record.deleted"], run_on_commit)
    partner = _new_partner(garden_admin, run_on_commit)  # created: not subscribed
    assert receiver.requests == []
    run_on_commit(lambda: garden_admin.put(f"{BP}/{partner['id']}", {"Name": "Renamed"}, format="json"))
    run_on_commit(lambda: garden_admin.delete(f"{BP}/{partner['id']}"))
    types = [e["type"] for e in receiver.events(hook["secret"])]
    assert types == ["record.updated", "record.deleted"]


def test_never_across_tenants(garden_admin, acme_admin, receiver, run_on_commit):
    acme_hook = _subscribe(acme_admin, receiver.url, ["*"], run_on_commit)
    _new_partner(garden_admin, run_on_commit)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.filter(endpoint_id=acme_hook["id"]).exists()
    # Acme's own change is delivered to Acme's endpoint.
    group = BPGroup.objects.get(client__value="Acme")
    run_on_commit(lambda: acme_admin.post(BP, {"Value": "Coyote", "Name": "Wile E.", "C_BP_Group_ID": group.pk},
                                          format="json"))
    events = receiver.events(acme_hook["secret"])
    assert [e["type"] for e in events] == ["record.created"]
    assert BPartner.objects.get(pk=events[0]["data"]["id"]).client.value == "Acme"
    # And the subscriptions themselves are the client's own.
    assert acme_admin.get("/api/v1/webhooks").json()[0]["id"] == acme_hook["id"]
    assert garden_admin.get("/api/v1/webhooks").json() == []
    assert garden_admin.get(f"/api/v1/webhooks/{acme_hook['id']}").status_code == 404
    assert garden_admin.delete(f"/api/v1/webhooks/{acme_hook['id']}").status_code == 404
    assert garden_admin.get(f"/api/v1/webhooks/{acme_hook['id']}/deliveries").status_code == 404


def test_document_completed(garden_admin, small_order, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["document.completed"], run_on_commit)
    response = run_on_commit(lambda: garden_admin.put(
        f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "CO"}, format="json"
    ))
    assert response.status_code == 200, response.content
    events = receiver.events(hook["secret"])
    assert [e["type"] for e in events] == ["document.completed"]
    assert events[0]["data"]["DocumentNo"] == small_order.document_no
    assert events[0]["data"]["tableName"] == "C_Order"


def test_workflow_activity_events(garden_user, garden_admin, large_order, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["workflow.activity.*"], run_on_commit)
    response = run_on_commit(lambda: garden_user.put(
        f"/api/v1/models/c_order/{large_order.pk}", {"doc-action": "CO"}, format="json"
    ))
    assert response.status_code == 200, response.content
    events = receiver.events(hook["secret"])
    assert events and all(e["type"].startswith("workflow.activity.") for e in events)
    assert any(e["data"]["tableName"].lower() == "c_order" and e["data"]["record_id"] == large_order.pk
               for e in events)


def test_failed_delivery_is_retried_with_the_same_id(garden_admin, receiver, run_on_commit, settings):
    hook = _subscribe(garden_admin, receiver.url, ["record.created"], run_on_commit)
    receiver.statuses = [503]
    _new_partner(garden_admin, run_on_commit)
    delivery = WebhookDelivery.objects.get(endpoint_id=hook["id"])
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 503)
    assert delivery.next_attempt_at > timezone.now()  # backoff
    assert retry_due_webhooks() == 0  # not due yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert retry_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    verify(hook["secret"], second.headers, second.body)


def test_gives_up_after_max_attempts_then_replay(garden_admin, receiver, run_on_commit, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    hook = _subscribe(garden_admin, receiver.url, ["record.created"], run_on_commit)
    receiver.statuses = [500, 500]
    _new_partner(garden_admin, run_on_commit)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    retry_due_webhooks()
    delivery = WebhookDelivery.objects.get(endpoint_id=hook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 2, "HTTP 500")
    response = run_on_commit(lambda: garden_admin.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.pk}/replay"
    ))
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(receiver.requests) == 3


def test_unreachable_endpoint_is_logged_not_raised(garden_admin, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["record.created"], run_on_commit)
    receiver.close()
    _new_partner(garden_admin, run_on_commit)  # the write succeeds whatever the endpoint does
    delivery = WebhookDelivery.objects.get(endpoint_id=hook["id"])
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_code is None
    assert "did not answer" in delivery.last_error


def test_rolled_back_change_sends_nothing(garden_admin, receiver, run_on_commit):
    _subscribe(garden_admin, receiver.url, ["record.created"], run_on_commit)
    # Defaults fill Value and the group (a sequence number is drawn), then the missing Name
    # refuses the create: everything is rolled back, the event included.
    response = run_on_commit(lambda: garden_admin.post(BP, {"Description": "No name"}, format="json"))
    assert response.status_code == 400
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/x", "gopher://example.com", "javascript:alert(1)",
    "http://127.0.0.1:8000/x", "http://localhost/x", "http://[::1]/x", "http://10.0.0.5/x",
    "http://169.254.169.254/latest/meta-data", "http://192.168.1.1/", "http://0.0.0.0/",
    "http://user:pw@example.com/", "http://", "not a url", "http://exa mple.com/", "",
    "http://[::ffff:127.0.0.1]/", "http://app.localhost/", "https://example.com:0/",
])
def test_urls_refused(garden_admin, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    bad_request(garden_admin.post("/api/v1/webhooks", {"url": url, "events": ["record.created"]}, format="json"))


def test_private_urls_need_the_setting(garden_admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    bad_request(garden_admin.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/", "events": ["*"]},
                                  format="json"))
    ok = garden_admin.post("/api/v1/webhooks", {"url": "https://hooks.example.com/in", "events": ["*"]},
                           format="json")
    assert ok.status_code == 201


@pytest.mark.parametrize("body", [
    {"url": "https://example.com/h", "events": []},
    {"url": "https://example.com/h", "events": ["record.exploded"]},
    {"url": "https://example.com/h", "events": ["record.created:no_such_table"]},
    {"url": "https://example.com/h", "events": ["upload.completed:c_order"]},
    {"url": "https://example.com/h", "events": "record.created"},
    {"url": "https://example.com/h", "events": [1]},
    {"url": "https://example.com/h", "events": ["*"], "secret": "not-a-secret"},
    {"url": "https://example.com/h", "events": ["*"], "secret": "whsec_c2hvcnQ="},
    {"url": "https://example.com/h", "events": ["*"], "is_active": "yes"},
    {"url": "https://example.com/h", "events": ["*"], "colour": "blue"},
    {"events": ["*"]},
    [1, 2],
])
def test_bad_subscriptions(garden_admin, body, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    bad_request(garden_admin.post("/api/v1/webhooks", body, format="json"))
    assert not WebhookEndpoint.objects.exists()


def test_authorization_matrix(anon_client, garden_user, garden_admin):
    body = {"url": "https://example.com/h", "events": ["*"]}
    assert anon_client.get("/api/v1/webhooks").status_code == 401
    assert anon_client.post("/api/v1/webhooks", body, format="json").status_code == 401
    assert garden_user.get("/api/v1/webhooks").status_code == 403
    assert garden_user.post("/api/v1/webhooks", body, format="json").status_code == 403
    assert not WebhookEndpoint.objects.exists()
    hook = garden_admin.post("/api/v1/webhooks", body, format="json").json()
    assert garden_user.get(f"/api/v1/webhooks/{hook['id']}").status_code == 403
    assert garden_user.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 403
    assert "secret" not in garden_admin.get("/api/v1/webhooks").json()[0]


def test_update_rotate_disable_delete(garden_admin, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["record.created"], run_on_commit)
    rotated = garden_admin.put(f"/api/v1/webhooks/{hook['id']}", {"secret": None}, format="json").json()
    assert rotated["secret"] != hook["secret"] and rotated["secret"].startswith("whsec_")
    _new_partner(garden_admin, run_on_commit, "First Partner")
    verify(rotated["secret"], receiver.requests[-1].headers, receiver.requests[-1].body)
    garden_admin.put(f"/api/v1/webhooks/{hook['id']}", {"is_active": False}, format="json")
    _new_partner(garden_admin, run_on_commit, "Second Partner")
    assert len(receiver.requests) == 1
    assert garden_admin.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert garden_admin.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_upload_completed_and_document_file_created(garden_admin, small_order, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["upload.completed", "document.file.created"], run_on_commit)
    started = run_on_commit(lambda: garden_admin.post("/api/v1/uploads", {
        "fileName": "hello.txt", "contentType": "text/plain", "fileSize": 6,
    }, format="json"))
    assert started.status_code in (200, 201), started.content
    upload_id = started.json()["uploadId"]
    chunk = run_on_commit(lambda: garden_admin.put(
        f"/api/v1/uploads/{upload_id}/chunks/1", b"hello\n", content_type="application/octet-stream",
    ))
    assert chunk.status_code in (200, 201), chunk.content
    events = receiver.events(hook["secret"])
    assert [e["type"] for e in events] == ["upload.completed"]
    assert events[0]["data"]["uploadId"] == upload_id and events[0]["data"]["size"] == 6
    attached = run_on_commit(lambda: garden_admin.post(
        f"/api/v1/models/c_order/{small_order.pk}/attachments", {"name": "note.txt", "data": "aGkK"}, format="json",
    ))
    assert attached.status_code == 201, attached.content
    created = [e for e in receiver.events(hook["secret"]) if e["type"] == "document.file.created"]
    assert len(created) == 1
    assert created[0]["data"]["name"] == "note.txt" and created[0]["data"]["record_id"] == small_order.pk


def test_document_completed_once_after_approval(garden_user, garden_admin, large_order, receiver, run_on_commit):
    hook = _subscribe(garden_admin, receiver.url, ["document.completed", "workflow.activity.*"], run_on_commit)
    run_on_commit(lambda: garden_user.put(
        f"/api/v1/models/c_order/{large_order.pk}", {"doc-action": "CO"}, format="json"
    ))
    assert "document.completed" not in [e["type"] for e in receiver.events(hook["secret"])]  # waiting: IP
    for action, body in (("approve", {}), ("setuserchoice", {"value": "3"})):
        nodes = garden_admin.get("/api/v1/workflow").json()["nodes"]
        node = next(n for n in nodes if n["record_id"] == large_order.pk)
        response = run_on_commit(lambda n=node, a=action, b=body: garden_admin.put(
            f"/api/v1/workflow/{a}/{n['id']}", b, format="json"
        ))
        assert response.status_code == 200, response.content
    large_order.refresh_from_db()
    assert large_order.doc_status == "CO"
    events = receiver.events(hook["secret"])
    completed = [e for e in events if e["type"] == "document.completed"]
    assert len(completed) == 1 and completed[0]["data"]["id"] == large_order.pk
    assert {"workflow.activity.created", "workflow.activity.completed"} <= {e["type"] for e in events}
