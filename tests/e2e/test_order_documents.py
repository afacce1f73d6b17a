"""An order with lines, a document uploaded in parallel chunks, copied onto the order as an
attachment and downloaded back (Range, If-None-Match), with its thumbnail made by a Celery task —
over real HTTP, on local storage and on S3, on the real worker when CI provides one."""

from __future__ import annotations

import io
import math
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from apps.dms.models import DMSFile, Thumbnail
from apps.dms.services import thumbnail_open
from apps.erp.models import BPartner, Product

from .conftest import login_two_step, sha, wait_for

pytestmark = pytest.mark.e2e

CHUNK = 16 * 1024


def noisy_png(width: int = 160, height: int = 120, seed: int = 7) -> bytes:
    """A PNG that does not compress away (≈ 55 KiB: several chunks), small enough to stay fast."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), bytes(rng.getrandbits(8) for _ in range(width * height * 3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def order_with_lines(api) -> dict:
    joe = BPartner.objects.get(client__value="GardenWorld", name="Joe Block")
    oak = Product.objects.get(client__value="GardenWorld", name="Oak Tree")
    response = api.post("/api/v1/models/c_order", json={
        "C_BPartner_ID": joe.pk, "Description": "e2e documents",
        "C_OrderLine": [{"M_Product_ID": oak.pk, "QtyOrdered": 2},
                        {"M_Product_ID": oak.pk, "QtyOrdered": 3}],
    })
    assert response.status_code == 201, response.text
    order = response.json()
    lines = api.get("/api/v1/models/c_orderline", params={"$filter": f"C_Order_ID eq {order['id']}"})
    assert lines.status_code == 200, lines.text
    assert sorted(line["QtyOrdered"] for line in lines.json()["records"]) == [2, 3]
    record = api.get(f"/api/v1/models/c_order/{order['id']}").json()
    assert float(record["GrandTotal"]) == pytest.approx(5 * float(oak.price_list))
    return order


def upload_in_parallel_chunks(api, data: bytes, name: str, content_type: str) -> str:
    created = api.post("/api/v1/uploads", json={
        "fileName": name, "contentType": content_type, "fileSize": len(data), "chunkSize": CHUNK,
        "sha256": sha(data), "uploadLocation": "ATTACHMENT", "expiresInSeconds": 3600,
    })
    assert created.status_code == 201, created.text
    upload_id = created.json()["uploadId"]
    count = math.ceil(len(data) / CHUNK)
    orders = list(range(1, count + 1))
    random.Random(3).shuffle(orders)

    def put(order: int):
        piece = data[(order - 1) * CHUNK: order * CHUNK]
        return order, api.put(
            f"/api/v1/uploads/{upload_id}/chunks/{order}", data=piece,
            headers={"X-Total-Chunks": str(count), "X-Content-SHA256": sha(piece),
                     "Content-Type": "application/octet-stream"},
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(put, orders))
    for order, answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["chunkOrder"] == order
    assert sum(answer.json()["isLastChunk"] for _, answer in answers) == 1
    return upload_id


def wait_completed(api, upload_id: str) -> dict:
    def done():
        status = api.get(f"/api/v1/uploads/{upload_id}").json()
        if status["status"] == "FAILED":
            raise AssertionError(status)
        return status if status["status"] == "COMPLETED" else None

    return wait_for(done, timeout=90, what=f"upload {upload_id} COMPLETED")


@pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)
def test_order_attachment_flow(live_server, demo, storage, celery_mode):
    api = login_two_step(live_server.url, "GardenUser")
    order = order_with_lines(api)
    data = noisy_png()
    assert len(data) > 3 * CHUNK

    upload_id = upload_in_parallel_chunks(api, data, "site plan.png", "image/png")
    status = wait_completed(api, upload_id)
    assert status["fileSize"] == len(data) and status["totalReceivedSize"] == len(data)

    copied = api.post(f"/api/v1/uploads/{upload_id}/copy", json={
        "copyLocation": "ATTACHMENT", "tableName": "C_Order", "recordId": order["id"],
    })
    assert copied.status_code == 200, copied.text
    assert copied.json()["recordId"] == order["id"] and copied.json()["fileSize"] == len(data)
    assert copied.json()["contentType"] == "image/png"

    base = f"/api/v1/models/c_order/{order['id']}/attachments"
    listed = api.get(base)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"attachments": [{"name": "site plan.png", "contentType": "image/png"}]}

    url = f"{base}/site%20plan.png"
    full = api.get(url)
    assert full.status_code == 200 and full.content == data and sha(full.content) == sha(data)
    assert "site%20plan.png" in full.headers["Content-Disposition"]
    etag = full.headers["ETag"]
    part = api.get(url, headers={"Range": "bytes=100-4195"})
    assert part.status_code == 206, part.text
    assert part.content == data[100:4196]
    assert part.headers["Content-Range"] == f"bytes 100-4195/{len(data)}"
    tail = api.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304

    # The thumbnail task (on the worker in CI) made the preview: DMS thumbnail rows, the document
    # marked done, the PNG kept beside the stored bytes (the worker's default storage may differ).
    dms_file = DMSFile.objects.get(table_name="c_order", record_id=order["id"])
    [thumbnail] = wait_for(
        lambda: list(Thumbnail.objects.filter(stored_file_id=dms_file.stored_file_id)),
        timeout=60, what="the thumbnail rows",
    )
    wait_for(lambda: DMSFile.objects.get(pk=dms_file.pk).thumbnails_status == "done",
             timeout=30, what="thumbnails_status done")
    assert (thumbnail.index, thumbnail.width, thumbnail.height) == (0, 160, 120)
    with thumbnail_open(thumbnail) as handle:
        preview = handle.read()
    assert preview.startswith(b"\x89PNG") and len(preview) == thumbnail.size
    assert dms_file.stored_file.sha256 == sha(data)
    assert dms_file.stored_file.storage_backend == storage

    if celery_mode.real:
        assert {"apps.dms.tasks.thumbnails_make"} <= celery_mode.names(), celery_mode.published
        assert any("finalize" in name for name in celery_mode.names()), celery_mode.published
    else:
        assert celery_mode.published == []  # eager: nothing went through a broker
