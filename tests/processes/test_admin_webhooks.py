"""The Django admin of webhooks: URL and events checked as the API checks them; Replay action."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import Client as Tenant
from apps.accounts.models import User
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(demo) -> Client:
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    return client


def test_admin_refuses_unsafe_url_and_unknown_event(staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    garden = Tenant.objects.get(value="GardenWorld")
    form = {"client": garden.pk, "url": "http://169.254.169.254/x", "description": "",
            "events": '["record.created"]', "secret": "whsec_" + "A" * 32, "is_active": "on"}
    response = staff.post("/admin/webhooks/webhookendpoint/add/", form)
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    response = staff.post("/admin/webhooks/webhookendpoint/add/",
                          {**form, "url": "https://example.com/h", "events": '["nope"]'})
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    response = staff.post("/admin/webhooks/webhookendpoint/add/",
                          {**form, "url": "https://example.com/h", "events": '["record.created:C_Order"]'})
    assert response.status_code == 302
    assert WebhookEndpoint.objects.get().events == ["record.created:c_order"]


def test_admin_replay_action(staff, django_capture_on_commit_callbacks):
    garden = Tenant.objects.get(value="GardenWorld")
    endpoint = WebhookEndpoint.objects.create(client=garden, url="https://example.com/h", events=["*"],
                                              is_active=False)
    delivery = WebhookDelivery.objects.create(client=garden, endpoint=endpoint, message_id="msg_1",
                                              event_type="record.created", body="{}", status="failed",
                                              attempts=6)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/webhooks/webhookdelivery/", {
            "action": "replay", "_selected_action": [delivery.pk],
        })
    assert response.status_code == 302
    delivery.refresh_from_db()
    # Replayed: attempted again at once (the endpoint is disabled, so it fails again, logged).
    assert delivery.attempts == 7 and delivery.status == "failed"
    assert delivery.last_error == "The endpoint is disabled."
