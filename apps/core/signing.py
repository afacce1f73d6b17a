"""Presigned URLs: HMAC-signed, expiring, bound to a subject (e.g. an upload id), a path prefix and
an HTTP method. They work without a bearer token; anything tampered with or expired fails.

The key is derived from ``SECRET_KEY`` for this purpose only, so it never signs anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from django.conf import settings

from apps.core.errors import Forbidden

EXPIRES_PARAM = "expires"
SCOPE_PARAM = "scope"
SIGNATURE_PARAM = "signature"
SIGNED_PARAMS = (EXPIRES_PARAM, SCOPE_PARAM, SIGNATURE_PARAM)


def _key() -> bytes:
    return hashlib.sha256(b"ledgerdoc.presigned-url\x00" + settings.SECRET_KEY.encode()).digest()


def _mac(method: str, scope: str, subject: str, expires: int) -> str:
    message = f"{method.upper()}\n{scope}\n{subject}\n{expires}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def sign_params(*, method: str, scope: str, subject: str, expires_in: int) -> dict[str, str]:
    """Query parameters that authorize ``method`` on paths under ``scope`` for ``subject``."""
    expires = int(time.time()) + max(1, int(expires_in))
    return {
        EXPIRES_PARAM: str(expires),
        SCOPE_PARAM: scope,
        SIGNATURE_PARAM: _mac(method, scope, subject, expires),
    }


def sign_query(*, method: str, scope: str, subject: str, expires_in: int) -> str:
    return urlencode(sign_params(method=method, scope=scope, subject=subject, expires_in=expires_in))


def is_presigned(params: Mapping[str, str]) -> bool:
    return SIGNATURE_PARAM in params


def verify(*, method: str, path: str, subject: str, params: Mapping[str, str]) -> None:
    """Raise 403 unless ``params`` sign this method, a prefix of ``path`` and ``subject``, unexpired."""
    signature = params.get(SIGNATURE_PARAM) or ""
    scope = params.get(SCOPE_PARAM) or ""
    try:
        expires = int(params.get(EXPIRES_PARAM) or "")
    except ValueError:
        raise Forbidden("The presigned URL is invalid.") from None
    expected = _mac(method, scope, subject, expires)
    if not scope or not path.startswith(scope) or not hmac.compare_digest(signature, expected):
        raise Forbidden("The presigned URL is invalid.")
    if expires < time.time():
        raise Forbidden("The presigned URL has expired.")
