"""Objects in an S3 bucket; S3 refusing or failing a request is a 503 with ``Retry-After``."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from typing import IO, Any

from apps.core.errors import BadRequest, Conflict, StorageUnavailable
from apps.core.storage.base import READ_BLOCK, S3_MIN_PART_SIZE, Backend, Body, logger

RETRY_AFTER_SECONDS = 5
# S3 error codes that mean "this object or upload is not there" (not "S3 failed").
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
# S3 refusing a client's CompleteMultipartUpload for what the client named.
_CLIENT_FAULTS = frozenset({
    "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML",
    "InvalidRequest", "InvalidArgument",
})


def _s3_code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _is_missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and _s3_code(error) in _MISSING


@contextlib.contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """S3 refusing or failing a request (botocore's errors) is a 503 with ``Retry-After``; errors
    of our own (a request body cut short, too long) pass through unchanged."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        logger.warning("S3 %s failed: %r", action, error)
        raise StorageUnavailable(
            "The file storage did not accept the request; nothing of it was kept. Try again later.",
            retry_after=_retry_after(error),
        ) from error


def _retry_after(error: Exception) -> int:
    headers = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw = str(headers.get("retry-after", "")).strip()
    if raw.isascii() and raw.isdecimal() and 0 < int(raw) <= 3600:
        return int(raw)
    return RETRY_AFTER_SECONDS


class _BodyAdapter:
    """A file-like view of a body for boto3 (it reads in pieces; never seeks back)."""

    def __init__(self, body: Body):
        self.body = body
        self.count = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.body.read(size if size and size > 0 else READ_BLOCK)
        except BaseException as error:
            self.error = error
            raise
        self.count += len(data)
        return data

    def call(self, method: Any, **kwargs: Any) -> Any:
        """Run a boto3 call over this body; our own body errors (short, too long) win."""
        try:
            return method(Body=self, **kwargs)
        except BaseException:
            if self.error is not None:
                raise self.error from None
            raise

    def tell(self) -> int:
        return self.count

    def seek(self, offset: int, whence: int = 0) -> int:
        if (whence == 0 and offset == self.count) or (whence == 1 and offset == 0):
            return self.count
        raise OSError("The request body cannot be rewound.")


def _require_length(length: int | None) -> int:
    if length is None:
        raise BadRequest("Content-Length is required.")
    return length


_stream_clients: dict[tuple, Any] = {}


class S3Objects:
    """Objects in a bucket, through the boto3 client of django-storages' ``S3Storage``."""

    backend = Backend.S3

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.bucket = storage.bucket_name

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    @property
    def stream_client(self) -> Any:
        """A client for streamed request bodies: the payload is not hashed for the signature (that
        would read the body twice, and it cannot be rewound); our own SHA-256 guards the bytes.
        One attempt only: a body cannot be sent twice."""
        storage = self.storage
        identity = (
            storage.endpoint_url, storage.region_name, storage.access_key, storage.secret_key,
            storage.session_profile,
        )
        client = _stream_clients.get(identity)
        if client is None:
            from botocore.config import Config

            config = storage.client_config.merge(
                Config(s3={"payload_signing_enabled": False}, retries={"total_max_attempts": 1})
            )
            client = storage._create_session().client(
                "s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
                endpoint_url=storage.endpoint_url, config=config, verify=storage.verify,
            )
            _stream_clients[identity] = client
        return client

    def put(self, key: str, body: Body, length: int | None = None, **_ignored: Any) -> None:
        """The request body as the object ``key`` (S3 needs its length up front)."""
        length = _require_length(length)
        with _s3_errors("PutObject"):
            _BodyAdapter(body).call(
                self.stream_client.put_object, Bucket=self.bucket, Key=key, ContentLength=length
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with _s3_errors("PutObject"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def create_multipart(self, key: str, content_type: str = "") -> str:
        extra = {"ContentType": content_type} if content_type else {}
        with _s3_errors("CreateMultipartUpload"):
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return answer["UploadId"]

    def upload_part(
        self, key: str, upload_id: str, part_number: int, body: Body, length: int | None
    ) -> str:
        length = _require_length(length)
        with _s3_errors("UploadPart"):
            answer = _BodyAdapter(body).call(
                self.stream_client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id,
                PartNumber=part_number, ContentLength=length,
            )
        return answer["ETag"]

    def _upload_part_bytes(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        with _s3_errors("UploadPart"):
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data
            )
        return answer["ETag"]

    def part_copy(self, key: str, upload_id: str, part_number: int, source_key: str) -> str:
        with _s3_errors("UploadPartCopy"):
            answer = self.client.upload_part_copy(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
            )
        return answer["CopyPartResult"]["ETag"]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        with _s3_errors("CompleteMultipartUpload"):
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )

    def abort(self, key: str, upload_id: str) -> None:
        """Best effort: an upload already completed or aborted is fine, and one left behind by a
        failing S3 is aborted later by the purge (it lists unfinished multipart uploads)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as error:  # noqa: BLE001
            level = logging.DEBUG if _is_missing(error) else logging.WARNING
            logger.log(level, "Aborting multipart upload %s of %s: %r", upload_id, key, error)

    # --- Direct uploads: the client sends the parts to S3 itself (apps.uploads.direct) ---------

    @property
    def presign_client(self) -> Any:
        """A client signing URLs with SigV4 (``X-Amz-Expires``, at most 7 days, checked by S3),
        whatever signature the storage's own client uses."""
        storage = self.storage
        identity = ("presign", storage.endpoint_url, storage.region_name, storage.access_key,
                    storage.secret_key, storage.session_profile)
        client = _stream_clients.get(identity)
        if client is None:
            from botocore.config import Config

            client = storage._create_session().client(
                "s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
                endpoint_url=storage.endpoint_url, verify=storage.verify,
                config=storage.client_config.merge(Config(signature_version="s3v4")),
            )
            _stream_clients[identity] = client
        return client

    def presign_part(self, key: str, upload_id: str, part_number: int, expires: int) -> str:
        """A URL that lets its holder PUT part ``part_number`` of this multipart upload, and
        nothing else, for ``expires`` seconds (S3 checks the signature; it cannot be revoked)."""
        with _s3_errors("presign UploadPart"):
            return self.presign_client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id,
                        "PartNumber": part_number},
                ExpiresIn=expires, HttpMethod="PUT",
            )

    def url_origin(self) -> str:
        """The scheme://host[:port] presigned URLs of this bucket point at (for CSP connect-src)."""
        from urllib.parse import urlsplit

        url = urlsplit(self.presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "x"}, ExpiresIn=60
        ))
        return f"{url.scheme}://{url.netloc}"

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]] | None:
        """The parts S3 holds of a multipart upload, as ``{PartNumber, Size, ETag}`` in order;
        None when the upload is not there (completed or aborted)."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id}
        try:
            with _s3_errors("ListParts"):
                while True:
                    answer = self.client.list_parts(**kwargs)
                    found.extend(
                        {"PartNumber": p["PartNumber"], "Size": p["Size"], "ETag": p["ETag"]}
                        for p in answer.get("Parts", [])
                    )
                    if not answer.get("IsTruncated"):
                        return found
                    kwargs["PartNumberMarker"] = answer.get("NextPartNumberMarker")
        except StorageUnavailable as unavailable:
            if _is_missing(unavailable.__cause__):
                return None
            raise

    def complete_declared(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Complete with the parts a client names: S3 refusing them (a wrong ETag, a part too
        small, the upload gone) is the client's error (409), S3 failing a 503."""
        try:
            with _s3_errors("CompleteMultipartUpload"):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
                )
        except StorageUnavailable as unavailable:
            code = _s3_code(unavailable.__cause__)
            if code in _CLIENT_FAULTS:
                raise Conflict(f"S3 refused to complete the upload ({code}).") from None
            raise

    def multipart_exists(self, key: str, upload_id: str) -> bool:
        try:
            with _s3_errors("ListParts"):
                self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except StorageUnavailable as unavailable:
            if _is_missing(unavailable.__cause__):
                return False
            raise
        return True

    def list_multipart_uploads(self, prefix: str) -> list[tuple[str, str, Any]]:
        """(key, upload id, initiated) of the bucket's unfinished multipart uploads under ``prefix``."""
        found = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        with _s3_errors("ListMultipartUploads"):
            while True:
                answer = self.client.list_multipart_uploads(**kwargs)
                for upload in answer.get("Uploads", []):
                    found.append((upload["Key"], upload["UploadId"], upload.get("Initiated")))
                if not answer.get("IsTruncated"):
                    return found
                kwargs["KeyMarker"] = answer.get("NextKeyMarker")
                kwargs["UploadIdMarker"] = answer.get("NextUploadIdMarker")

    def compose(
        self, key: str, sources: list[tuple[str, int]], content_type: str = ""
    ) -> tuple[str, int]:
        """The ``(key, size)`` sources one after the other as ``key`` (server-side part copies when
        every part but the last has S3's minimum size); its (SHA-256, size)."""
        if len(sources) == 1:
            with _s3_errors("CopyObject"):
                self.client.copy_object(
                    Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": sources[0][0]}
                )
            return self.sha256_of(key)
        if all(size >= S3_MIN_PART_SIZE for _key, size in sources[:-1]):
            upload_id = self.create_multipart(key, content_type)
            try:
                parts = [
                    (n, self.part_copy(key, upload_id, n, source))
                    for n, (source, _size) in enumerate(sources, start=1)
                ]
                self.complete(key, upload_id, parts)
            except BaseException:
                self.abort(key, upload_id)
                raise
            return self.sha256_of(key)
        return self._compose_streamed(key, sources, content_type)

    def _compose_streamed(
        self, key: str, sources: list[tuple[str, int]], content_type: str
    ) -> tuple[str, int]:
        """Small sources: streamed into parts of at least 5 MiB, hashing on the way."""
        digest, size = hashlib.sha256(), 0
        buffer = bytearray()
        if sum(s for _k, s in sources) < S3_MIN_PART_SIZE:
            for source, _size in sources:
                with contextlib.closing(self.open_read(source)) as body:
                    buffer += body.read()
            digest.update(buffer)
            self.put_bytes(key, bytes(buffer))
            return digest.hexdigest(), len(buffer)
        upload_id = self.create_multipart(key, content_type)
        parts: list[tuple[int, str]] = []
        try:
            for source, _size in sources:
                with contextlib.closing(self.open_read(source)) as body:
                    while data := body.read(READ_BLOCK):
                        digest.update(data)
                        size += len(data)
                        buffer += data
                        if len(buffer) >= READ_BLOCK:
                            parts.append((len(parts) + 1, self._upload_part_bytes(
                                key, upload_id, len(parts) + 1, bytes(buffer))))
                            buffer.clear()
            if buffer:
                parts.append((len(parts) + 1, self._upload_part_bytes(
                    key, upload_id, len(parts) + 1, bytes(buffer))))
            self.complete(key, upload_id, parts)
        except BaseException:
            self.abort(key, upload_id)
            raise
        return digest.hexdigest(), size

    def open_read(self, key: str) -> IO[bytes]:
        """A streaming reader (the GetObject body, never loaded whole)."""
        with _s3_errors("GetObject"):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def open_range(self, key: str, start: int, length: int, size: int) -> IO[bytes]:
        """A ranged GetObject (never the S3File of django-storages, which spools the object)."""
        extra = {} if start == 0 and length >= size else {
            "Range": f"bytes={start}-{start + length - 1}"
        }
        with _s3_errors("GetObject"):
            return self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]

    def read_head(self, key: str, size: int) -> bytes:
        with contextlib.closing(self.open_range(key, 0, size, size + 1)) as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            with _s3_errors("HeadObject"):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except StorageUnavailable as unavailable:
            if _is_missing(unavailable.__cause__):
                return False
            raise
        return True

    def size_of(self, key: str) -> int:
        with _s3_errors("HeadObject"):
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def delete(self, key: str) -> None:
        with _s3_errors("DeleteObject"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        with _s3_errors("DeleteObjects"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def sha256_of(self, key: str) -> tuple[str, int]:
        """Whole-object SHA-256 and size in one read pass."""
        digest, size = hashlib.sha256(), 0
        with contextlib.closing(self.open_read(key)) as body, _s3_errors("GetObject"):
            while data := body.read(READ_BLOCK):
                digest.update(data)
                size += len(data)
        return digest.hexdigest(), size
