"""An upload's status read while another request lets go of its file (found by the embedded
interleaving, seed 2323: a Nuxeo upload placed and released between the status call's session read
and its stored-file read answered 500)."""

from __future__ import annotations

import pytest

from apps.core.errors import NotFound
from apps.uploads import services
from apps.uploads.dialects import idempiere
from apps.uploads.models import StoredFile, UploadSession
from tests.uploads.conftest import payload, sha, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_status_of_an_upload_released_after_it_was_read_is_404_not_500(garden_user):
    data = payload(3000, seed=31)
    upload_id = upload(garden_user, data)
    read = UploadSession.objects.get(uid=upload_id)  # what the status call read first
    assert read.state == UploadSession.State.COMPLETED and read.stored_file_id
    assert idempiere._status_body(read)["sha256"] == sha(data)
    # Another request is done with it: the upload is cancelled and its file let go of.
    services.session_cancel(session=UploadSession.objects.get(uid=upload_id))
    assert not StoredFile.objects.filter(pk=read.stored_file_id).exists()
    with pytest.raises(NotFound):
        idempiere._status_body(read)
    answer = garden_user.get(f"/api/v1/uploads/{upload_id}")
    assert answer.status_code == 404, answer.content
