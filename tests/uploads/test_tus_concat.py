"""tus concatenation (partial + final uploads) and GET of a finished upload URL, over the real URL
conf, on local storage and S3; partials of another user or tenant are 404."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from apps.uploads.models import UploadSession
from tests.accounts.helpers import bearer_client
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
MiB = 1024 * 1024


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def partial(client: APIClient, data: bytes) -> str:
    created = client.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_LENGTH=str(len(data)),
                          HTTP_UPLOAD_CONCAT="partial")
    assert created.status_code == 201, created.content
    url = created["Location"]
    answer = client.patch(url, data, content_type="application/offset+octet-stream", **TUS,
                          HTTP_UPLOAD_OFFSET="0")
    assert answer.status_code == 204, answer.content
    return url


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("sizes", [(1000, 2000, 10), (5 * MiB, 5 * MiB, 123)])
def test_a_final_upload_is_its_partials_in_order(garden_user, storage, sizes):
    pieces = [payload(n, seed=20 + i) for i, n in enumerate(sizes)]
    urls = [partial(garden_user, piece) for piece in pieces]
    head = garden_user.head(urls[0], **TUS)
    assert head["Upload-Concat"] == "partial"
    # Out of order on purpose: the final names the order.
    order = [2, 0, 1]
    metadata = f"filename {b64('Zusammenführung.bin')},filetype {b64('application/pdf')}"
    final = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_METADATA=metadata,
                             HTTP_UPLOAD_CONCAT="final;" + " ".join(urls[i] for i in order))
    assert final.status_code == 201, final.content
    expected = b"".join(pieces[i] for i in order)
    url = final["Location"]
    head = garden_user.head(url, **TUS)
    assert head.status_code == 200
    assert head["Upload-Offset"] == head["Upload-Length"] == str(len(expected))
    assert head["Upload-Concat"] == "final;" + " ".join(urls[i] for i in order)
    assert head["Upload-Metadata"] == metadata
    # GET of the upload URL serves its bytes (no Tus-Resumable needed), with Range and ETag.
    got = garden_user.get(url)
    assert got.status_code == 200
    assert body(got) == expected
    assert got["ETag"] == f'"{sha(expected)}"'
    ranged = garden_user.get(url, HTTP_RANGE="bytes=100-199")
    assert ranged.status_code == 206 and body(ranged) == expected[100:200]
    session = UploadSession.objects.get(uid=url.rsplit("/", 1)[-1])
    assert session.file_name == "Zusammenführung.bin" and session.stored_file.sha256 == sha(expected)
    # A final upload takes no PATCH.
    refused = garden_user.patch(url, b"x", content_type="application/offset+octet-stream", **TUS,
                                HTTP_UPLOAD_OFFSET=str(len(expected)))
    assert refused.status_code == 403


def test_partials_of_someone_else_are_not_found(garden_user, storage):
    theirs = partial(bearer_client("AcmeAdmin"), payload(300))
    colleague = partial(bearer_client("GardenAdmin"), payload(300, seed=2))
    mine = partial(garden_user, payload(300, seed=3))
    before = UploadSession.objects.count()
    for other in (theirs, colleague):
        answer = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_CONCAT=f"final;{mine} {other}")
        assert answer.status_code == 404, answer.content
    assert UploadSession.objects.count() == before


def test_what_a_final_cannot_be_made_of(garden_user, storage):
    plain = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_LENGTH="3")["Location"]
    unfinished = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_LENGTH="3",
                                  HTTP_UPLOAD_CONCAT="partial")["Location"]
    done = partial(garden_user, b"abc")
    before = UploadSession.objects.count()
    for header in (f"final;{plain}", f"final;{unfinished}", "final;", "final; ", "whole",
                   "final;https://elsewhere.example/x", f"final;{done}\u00a0"):
        answer = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_CONCAT=header)
        assert answer.status_code in (400, 404), (header, answer.status_code, answer.content)
        assert answer["Content-Type"].startswith("application/problem+json")
    answer = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_CONCAT=f"final;{done}",
                              HTTP_UPLOAD_LENGTH="3")
    assert answer.status_code == 400
    assert UploadSession.objects.count() == before


def test_get_of_an_unfinished_upload_says_how_far_it_is(garden_user, storage):
    url = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_LENGTH="10")["Location"]
    garden_user.patch(url, b"abcd", content_type="application/offset+octet-stream", **TUS,
                      HTTP_UPLOAD_OFFSET="0")
    answer = garden_user.get(url)
    assert answer.status_code == 409
    assert answer["Upload-Offset"] == "4"
    assert bearer_client("AcmeAdmin").get(url).status_code == 404
    assert APIClient().get(url).status_code == 401
