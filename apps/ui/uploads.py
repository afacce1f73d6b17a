"""Finished browser uploads handed to the page that placed them: through ``/api/v1/tus/``, or
straight to S3 through ``/api/v1/s3/multipart`` (Uppy, when the storage is S3): either way an upload
session of the caller, placed by its id with the SHA-256 the browser computed.

The browser's uploader authenticates to the tus endpoint with a short-lived upload token of the
page's own login session (``upload_token``): a bearer token is not sent by the browser on its
own, so a cross-site page cannot make use of it (no CSRF exposure on the upload endpoint), and it
dies with the login session at sign-out like every token of it. It is not an access token: only
the upload endpoints accept it (``accounts.authentication.UploadTokenAuthentication``), every
other endpoint answers 401.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from apps.core.context import RequestContext
from apps.core.errors import BadRequest, Conflict, Unprocessable
from apps.uploads import direct as upload_direct
from apps.uploads import selectors as upload_selectors
from apps.uploads import services as upload_services
from apps.uploads.models import UploadSession

UPLOAD_TOKEN_LIFETIME = timedelta(minutes=10)
# A browser upload's chunk: small enough that a reload loses little, large enough to be fast.
UPLOAD_CHUNK_SIZE = 4 * 1024 * 1024
FINALIZE_WAIT_SECONDS = 20.0
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def direct_uploads_offered() -> bool:
    """The uploader sends files straight to S3 (the storage is S3 and direct uploads are on)."""
    return upload_direct.direct_available()


def finished_upload(ctx: RequestContext, upload_id: str, sha256: str = "") -> UploadSession:
    """The caller's finished upload, its whole-file SHA-256 checked against the browser's.

    404 for anyone else's; 409 while it is still incomplete; 422, in words, when it failed or its
    bytes differ from the file in the browser (the upload is then dropped)."""
    session = upload_selectors.session_for_owner(ctx, upload_id)
    upload_selectors.session_wait_settled(session, seconds=FINALIZE_WAIT_SECONDS)
    session.refresh_from_db()
    state = session.state
    if state == UploadSession.State.FAILED:
        reason = session.failure_reason or "the server could not finish it"
        upload_services.session_cancel(session=session)
        raise Unprocessable(f"The upload of '{session.file_name}' failed: {reason}")
    if state != UploadSession.State.COMPLETED:
        raise Conflict(f"The upload of '{session.file_name}' is not complete yet.")
    sha256 = (sha256 or "").strip().lower()
    if sha256:
        if not SHA256_HEX.match(sha256):
            raise BadRequest("The checksum must be a SHA-256 in hexadecimal.")
        stored = upload_selectors.session_finished_file(session)
        if stored.sha256 != sha256:
            upload_services.session_cancel(session=session)
            raise Unprocessable(
                f"'{session.file_name}' arrived damaged: its checksum on the server differs from "
                "the file on your computer, so it was not saved. Please upload it again."
            )
    return session


def upload_done(session: Any) -> None:
    """The upload only carried the bytes to their place: the placed file holds its own reference."""
    upload_services.session_cancel(session=session)
