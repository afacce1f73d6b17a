"""Order approval as people do it over HTTP: GardenUser orders above the role's approval amount,
attaches the quote (an upload finalized by Celery, on the real worker in CI) and completes it
(doc-action CO → IP, the Order Approval workflow starts); GardenAdmin sees the quote, approves and
sets the priority; GardenUser acknowledges; the order is CO."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from apps.dms.models import DMSFile, Thumbnail
from apps.erp.models import BPartner, Product

from .conftest import login_two_step, sha, wait_for

pytestmark = pytest.mark.e2e


def _code(value):
    return value["id"] if isinstance(value, dict) else value


def quote_pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 160), "blue").save(out, format="PDF")
    return out.getvalue()


def nodes_for(api, order_id: int) -> list[dict]:
    answer = api.get("/api/v1/workflow")
    assert answer.status_code == 200, answer.text
    return [node for node in answer.json()["nodes"] if node["record_id"] == order_id]


def attach_quote(api, order_id: int, data: bytes) -> None:
    created = api.post("/api/v1/uploads", json={
        "fileName": "quote.pdf", "contentType": "application/pdf", "fileSize": len(data),
        "chunkSize": len(data), "sha256": sha(data), "uploadLocation": "ATTACHMENT",
    })
    assert created.status_code == 201, created.text
    upload_id = created.json()["uploadId"]
    chunk = api.put(f"/api/v1/uploads/{upload_id}/chunks/1", data=data, headers={
        "X-Total-Chunks": "1", "X-Content-SHA256": sha(data),
        "Content-Type": "application/octet-stream",
    })
    assert chunk.status_code == 200 and chunk.json()["isLastChunk"] is True, chunk.text

    def copied():  # 409 + Retry-After while the worker finalizes
        answer = api.post(f"/api/v1/uploads/{upload_id}/copy", json={
            "copyLocation": "ATTACHMENT", "tableName": "C_Order", "recordId": order_id,
        })
        if answer.status_code == 409:
            assert answer.headers.get("Retry-After"), answer.headers
            return None
        assert answer.status_code == 200, answer.text
        return answer.json()

    answer = wait_for(copied, timeout=90, what="the quote's upload to finalize")
    assert answer["contentType"] == "application/pdf" and answer["fileSize"] == len(data)


def test_big_order_is_approved_over_http(live_server, demo, celery_mode):
    requester = login_two_step(live_server.url, "GardenUser")
    approver = login_two_step(live_server.url, "GardenAdmin")

    joe = BPartner.objects.get(client__value="GardenWorld", name="Joe Block")
    oak = Product.objects.get(client__value="GardenWorld", name="Oak Tree")
    created = requester.post("/api/v1/models/c_order", json={
        "C_BPartner_ID": joe.pk, "Description": "e2e approval",
        "C_OrderLine": [{"M_Product_ID": oak.pk, "QtyOrdered": 150},
                        {"M_Product_ID": oak.pk, "QtyOrdered": 50}],
    })
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    document_no = created.json()["DocumentNo"]

    data = quote_pdf()
    attach_quote(requester, order_id, data)

    completed = requester.put(f"/api/v1/models/c_order/{order_id}", json={"doc-action": "CO"})
    assert completed.status_code == 200, completed.text
    record = requester.get(f"/api/v1/models/c_order/{order_id}").json()
    assert _code(record["DocStatus"]) == "IP" and record["IsApproved"] is False
    assert float(record["GrandTotal"]) == pytest.approx(200 * float(oak.price_list))
    assert nodes_for(requester, order_id) == []  # not the requester's own approval

    # The approver sees the activity and the quote attached to the order.
    [approval] = nodes_for(approver, order_id)
    assert approval["node-name"] == "Approve order" and document_no in approval["summary"]
    listed = approver.get(f"/api/v1/models/c_order/{order_id}/attachments").json()
    assert listed == {"attachments": [{"name": "quote.pdf", "contentType": "application/pdf"}]}
    quote = approver.get(f"/api/v1/models/c_order/{order_id}/attachments/quote.pdf")
    assert quote.status_code == 200 and sha(quote.content) == sha(data)

    answer = approver.put(f"/api/v1/workflow/approve/{approval['id']}", json={"message": "ok"})
    assert answer.status_code == 200, answer.text
    assert approver.put(f"/api/v1/workflow/approve/{approval['id']}", json={}).status_code == 409

    [choice] = nodes_for(approver, order_id)
    assert choice["node-name"] == "Set order priority"
    wrong = approver.put(f"/api/v1/workflow/setuserchoice/{choice['id']}", json={"value": "42"})
    assert wrong.status_code == 400, wrong.text
    answer = approver.put(f"/api/v1/workflow/setuserchoice/{choice['id']}", json={"value": "3"})
    assert answer.status_code == 200, answer.text
    assert nodes_for(approver, order_id) == []

    [notice] = nodes_for(requester, order_id)
    assert notice["node-name"] == "Order approved"
    answer = requester.put(f"/api/v1/workflow/acknowledge/{notice['id']}", json={"message": "thx"})
    assert answer.status_code == 200, answer.text
    assert nodes_for(requester, order_id) == []

    record = requester.get(f"/api/v1/models/c_order/{order_id}").json()
    assert (_code(record["DocStatus"]), record["IsApproved"], _code(record["PriorityRule"])) == (
        "CO", True, "3"
    )
    # The quote's first page became a thumbnail (a task; waited for, so no task outlives the test).
    quote_file = DMSFile.objects.get(table_name="c_order", record_id=order_id, name="quote.pdf")
    wait_for(lambda: DMSFile.objects.get(pk=quote_file.pk).thumbnails_status == "done",
             timeout=60, what="the quote's thumbnail")
    assert Thumbnail.objects.filter(stored_file_id=quote_file.stored_file_id, index=0).exists()
    if celery_mode.real:
        assert any("finalize" in name for name in celery_mode.names()), celery_mode.published
        assert "apps.dms.tasks.thumbnails_make" in celery_mode.names(), celery_mode.published
