"""Nuxeo upload handlers: the list the client reads first, and a batch opened through a handler."""

import pytest

pytestmark = pytest.mark.django_db


def test_handlers_list_only_default(garden_user):
    response = garden_user.get("/api/v1/upload/handlers")
    assert response.status_code == 200
    assert response.json() == {"handlers": [{"name": "default"}]}


def test_new_batch_with_the_default_handler_is_a_batch(garden_user):
    response = garden_user.post("/api/v1/upload/new/default")
    assert response.status_code == 201, response.content
    batch_id = response.json()["batchId"]
    assert response.json()["provider"] == "default"
    upload = garden_user.post(f"/api/v1/upload/{batch_id}/0", b"hello", content_type="text/plain",
                              HTTP_X_FILE_NAME="h.txt")
    assert upload.status_code == 201, upload.content
    assert garden_user.get(f"/api/v1/upload/{batch_id}").json()[0]["name"] == "h.txt"


def test_unknown_handler_and_anonymous(garden_user, anon_client):
    response = garden_user.post("/api/v1/upload/new/s3")
    assert response.status_code == 404
    assert response.json()["status"] == 404 and "s3" in response.json()["detail"]
    assert anon_client.get("/api/v1/upload/handlers").status_code == 401
    assert anon_client.post("/api/v1/upload/new/default").status_code == 401


def test_batch_routes_still_answer(garden_user):
    # "handlers" and "new" are not batch ids: a real batch id still reaches the batch views.
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    assert garden_user.get(f"/api/v1/upload/{batch_id}").status_code == 200
    assert garden_user.delete(f"/api/v1/upload/{batch_id}").status_code == 204
