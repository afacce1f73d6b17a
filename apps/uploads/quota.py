"""The per-client storage quota (``AD_Client.StorageQuota``, empty = unlimited): what one tenant
may keep on the service's storage, whatever the dialect its bytes come through.

What counts (:func:`client_storage_used`, one aggregate query):

- the client's stored files, each once: ``AD_StoredFile`` is content-addressed per tenant, so a
  DMS file, an attachment, an image, an archive or a copy over bytes the client already stores
  references the same row and adds nothing. A file counts until it is freed (one released by its
  last reference counts until its free task ran);
- its uploads with no stored file yet: an open, live upload its declared length (the bytes
  received while the length is unknown), one being finalized its length, a failed or overdue one
  the bytes it received, until purge closes it (``apps.uploads.purge``).

Trashed items and older versions of a document (not built yet) must keep their stored file's
reference until they are purged: then they count with no change here. Anything that keeps bytes
of a client outside ``AD_StoredFile`` and the upload sessions must add its own term to
:func:`client_storage_used` (thumbnails, derived from stored files, are not counted).

Where it is enforced (the engine, so every dialect alike): an upload of known length reserves it
when it is created (:func:`quota_reserve` in ``services.session_create``, before its storage is
opened), a concatenation its whole length (every partial as often as it is named), a length
declared later what it adds to the bytes received; while the length is unknown, each chunk is
checked when it is recorded (:func:`chunk_record`) and, when its length is announced, before a
byte of it is read (:func:`quota_precheck`). A refusal is ``413`` with the problem body's
``code`` ``quota_exceeded`` and ``quota``, ``used`` and ``requested`` (bytes): a client error,
which upload clients (tus-js-client, Uppy) do not retry, unlike ``507``, which stays the answer of
a full disk.

Concurrency: a check that reserves locks the client's row ``FOR NO KEY UPDATE`` (which no foreign
key check waits for: only other quota checks do), then counts in a statement of its own (under
READ COMMITTED it sees what the holder before it committed), and the reservation (the session row,
the chunk's record) is written in the same transaction. The client row is the last row lock such a
transaction takes (after a batch's, after the session's), so no lock order can close a circle
through it. On SQLite every transaction is IMMEDIATE (``config/settings.py``): one writer at a time.
Clients without a quota cost one primary-key read per new upload and take no lock.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import Client
from apps.core.errors import PayloadTooLarge
from apps.uploads import claims
from apps.uploads.models import StoredFile, UploadChunk, UploadSession

State = UploadSession.State

# Sessions whose bytes are not (yet, or any more) a stored file but still take space.
IN_FLIGHT_STATES = (State.INITIATED, State.UPLOADING, State.PROCESSING, State.FAILED)


class QuotaExceeded(PayloadTooLarge):
    """The client's stored bytes would pass its quota: nothing of the request is kept."""

    code = "quota_exceeded"

    def __init__(self, *, quota: int, used: int, requested: int) -> None:
        super().__init__(
            f"This would take the client's storage to {used + requested} bytes, over its quota of "
            f"{quota} bytes ({used} in use). Delete files, or ask for a larger quota.",
            extra={"code": self.code, "quota": quota, "used": used, "requested": requested},
        )


def client_quota(client_id: int, *, lock: bool = False) -> int | None:
    """The client's quota in bytes (None: unlimited); ``lock``: its row locked ``FOR NO KEY
    UPDATE`` to the end of the caller's transaction."""
    rows = Client.objects.filter(pk=client_id)
    if lock:
        rows = rows.select_for_update(no_key=True)
    return rows.values_list("storage_quota", flat=True).first()


def _in_flight_bytes(now: Any) -> models.Expression:
    """What one upload session without a stored file takes (see the module's docstring)."""
    declared = Coalesce(F("size"), F("received_bytes"))
    return models.Case(
        models.When(Q(state__in=UploadSession.OPEN_STATES, expires_at__gt=now), then=declared),
        models.When(state=State.PROCESSING, then=declared),
        default=F("received_bytes"),
        output_field=models.BigIntegerField(),
    )


def client_storage_used(client_id: int, *, now: Any = None) -> int:
    """The client's bytes as the quota counts them: its stored files once each, plus its uploads
    in flight. One query (two sums over the client's rows, by their client indexes)."""
    now = now or timezone.now()
    stored = (
        StoredFile.objects.filter(client_id=OuterRef("pk")).order_by().values("client_id")
        .annotate(total=Sum("size")).values("total")
    )
    flight = (
        UploadSession.objects
        .filter(client_id=OuterRef("pk"), state__in=IN_FLIGHT_STATES, stored_file__isnull=True)
        .order_by().values("client_id").annotate(total=Sum(_in_flight_bytes(now))).values("total")
    )
    big = models.BigIntegerField()
    row = (
        Client.objects.filter(pk=client_id)
        .annotate(
            stored=Coalesce(Subquery(stored, output_field=big), Value(0), output_field=big),
            flight=Coalesce(Subquery(flight, output_field=big), Value(0), output_field=big),
        )
        .values_list("stored", "flight").first()
    )
    return 0 if row is None else int(row[0]) + int(row[1])


def _refuse_over(client_id: int, quota: int, requested: int) -> None:
    used = client_storage_used(client_id)
    if used + requested > quota:
        raise QuotaExceeded(quota=int(quota), used=used, requested=int(requested))


def quota_reserve(*, client_id: int, requested: int | None) -> None:
    """Refuse (:class:`QuotaExceeded`) ``requested`` more bytes for the client when they would
    pass its quota; else they are the caller's to write in its transaction, which must be open
    (``transaction.atomic``): the client's row stays locked to its end, so two uploads racing for
    the last bytes of a quota are counted one after the other. Nothing (no lock either) for a
    client without a quota, nor for no bytes (an empty file may always be stored)."""
    if not requested or requested <= 0:
        return
    if client_quota(client_id) is None:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota_reserve must run inside the transaction that writes the bytes")
    quota = client_quota(client_id, lock=True)
    if quota is not None:
        _refuse_over(client_id, quota, requested)


def quota_precheck(*, session: UploadSession, length: int | None) -> None:
    """A body of ``length`` bytes for an upload of unknown length that would pass the quota as the
    client stands now is refused before a byte of it is read. Not a reservation: the chunk's
    record decides (:func:`chunk_record`). Uploads of known length reserved it at creation."""
    if session.size is not None or not length:
        return
    quota = client_quota(session.client_id)
    if quota is not None:
        _refuse_over(session.client_id, quota, length)


def chunk_record(
    session: UploadSession, claim: UploadChunk, fields: dict[str, Any]
) -> bool | None:
    """:func:`claims.chunk_record`, and for an upload whose length is still unknown, of a client
    with a quota, within it: the session's row, then the client's, are locked and the chunk's
    bytes counted against the quota before the record, in one transaction (so the record takes
    the engine's transactional path). :class:`QuotaExceeded` when they would pass it: nothing
    recorded (the caller drops the claim)."""
    if session.size is not None or client_quota(session.client_id) is None:
        return claims.chunk_record(session, claim, fields)
    with transaction.atomic():
        sizes = list(
            UploadSession.objects.select_for_update(no_key=True).filter(pk=session.pk)
            .values_list("size", flat=True)
        )
        if sizes == [None]:  # still unknown (a session gone meanwhile: the record refuses it)
            quota_reserve(client_id=session.client_id, requested=int(fields["size"]))
        return claims.chunk_record(session, claim, fields)
