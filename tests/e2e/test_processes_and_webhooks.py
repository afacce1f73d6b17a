"""A report run as a Celery job, its PDF fetched; an order printed; a completed order announced by
a signed webhook to a local receiver — over real HTTP, on the real worker when CI provides one."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
from standardwebhooks import Webhook

from apps.erp.demo import SMALL_ORDER
from apps.erp.models import Order
from tests.processes.webhook_receiver import Receiver, verify

from .conftest import login_two_step, wait_for

pytestmark = pytest.mark.e2e


def pdf_text(content: bytes) -> str:
    pdf = pdfium.PdfDocument(content)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def test_report_job_print_and_webhook(live_server, demo, celery_mode, receiver):
    api = login_two_step(live_server.url, "GardenAdmin")
    order = Order.objects.get(client__value="GardenWorld", description=SMALL_ORDER)

    hook = api.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["document.completed"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]

    started = api.post("/api/v1/processes/jobs/order-detail", json={
        "DateOrdered": "2026-03-01", "DateOrdered_to": "2026-03-31", "report-type": "PDF",
    })
    assert started.status_code == 200, started.text
    job_url = started.headers["Location"]

    def finished():
        body = api.get(job_url).json()
        return body if body["status"] in ("completed", "failed") else None

    job = wait_for(finished, what="the report job")
    assert job["status"] == "completed", job
    report = api.get(f"/api/v1/files/{job['result']['reportFile']}")
    assert report.status_code == 200 and report.headers["Content-Type"] == "application/pdf"
    assert order.document_no in pdf_text(report.content) and "18,187.50" in pdf_text(report.content)

    completed = api.put(f"/api/v1/models/c_order/{order.pk}", json={"doc-action": "CO"})
    assert completed.status_code == 200, completed.text
    wait_for(lambda: receiver.requests, what="the webhook delivery")
    received = receiver.requests[0]
    event = verify(secret, received.headers, received.body)
    assert event["type"] == "document.completed" and event["data"]["DocumentNo"] == order.document_no
    assert Webhook(secret).verify(received.body, received.headers)["data"]["id"] == order.pk

    printed = api.get(f"/api/v1/models/c_order/{order.pk}/print")
    assert printed.status_code == 200 and printed.headers["Content-Type"] == "application/pdf"
    text = pdf_text(printed.content)
    assert order.document_no in text and "337.50" in text and "Completed" in text

    if celery_mode.real:
        assert {"apps.processes.tasks.process_job_run", "apps.webhooks.tasks.deliver_webhook"} <= \
            celery_mode.names(), celery_mode.published
    else:
        assert celery_mode.published == []
