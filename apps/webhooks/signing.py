"""Standard Webhooks signatures (https://www.standardwebhooks.com/, the scheme of the
``standardwebhooks`` library): ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
keyed with the base64-decoded part of the ``whsec_`` secret."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from apps.core.errors import BadRequest
from apps.webhooks.models import SECRET_PREFIX

MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def secret_validate(secret: object) -> str:
    """A client-chosen secret: ``whsec_`` + base64 of 24 to 64 bytes, else 400."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX) or not secret.isascii():
        raise BadRequest({"secret": "Expected 'whsec_' followed by base64 (24 to 64 bytes)."})
    try:
        key = secret_key(secret)
    except (binascii.Error, ValueError):
        raise BadRequest({"secret": "The part after 'whsec_' is not base64."}) from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise BadRequest({"secret": f"The key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes."})
    return secret


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(*, secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
    }
