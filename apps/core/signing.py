"""Presigned URLs: HMAC-signed, expiring, bound to a subject (e.g. an upload id), a path prefix and
an HTTP method. They work without a bearer token; anything malformed or tampered with answers 403,
a genuine URL past its expiry 410 (DESIGN §3).

The key is derived from ``SECRET_KEY`` for this purpose only, so it never signs anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from django.conf import settings

from apps.core.errors import Forbidden, Gone

EXPIRES_PARAM = "expires"
SCOPE_PARAM = "scope"
SIGNATURE_PARAM = "signature"
SIGNED_PARAMS = (EXPIRES_PARAM, SCOPE_PARAM, SIGNATURE_PARAM)
# What sign_params emits: a lower-case hex SHA-256 HMAC and a Unix time in whole seconds.
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_EXPIRES = re.compile(r"[0-9]{1,12}")


def _key() -> bytes:
    return hashlib.sha256(b"ledgerdoc.presigned-url\x00" + settings.SECRET_KEY.encode()).digest()


def _mac(method: str, scope: str, subject: str, expires: int) -> str:
    # surrogatepass: a scope or subject taken from a request can never make encoding fail.
    message = f"{method.upper()}\n{scope}\n{subject}\n{expires}".encode("utf-8", "surrogatepass")
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
    """Pass when ``params`` sign this method, a prefix of ``path`` and ``subject``, unexpired.

    Malformed or tampered parameters raise 403 (Forbidden) whatever their expiry; a genuine
    signature past its expiry raises 410 (Gone). The signature is checked first, so the status
    never tells anything about an expiry nobody signed.
    """
    signature = params.get(SIGNATURE_PARAM) or ""
    scope = params.get(SCOPE_PARAM) or ""
    raw_expires = params.get(EXPIRES_PARAM) or ""
    if not (_SIGNATURE.fullmatch(signature) and _EXPIRES.fullmatch(raw_expires) and scope):
        raise Forbidden("The presigned URL is invalid.")
    expires = int(raw_expires)
    expected = _mac(method, scope, subject, expires)
    if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
        raise Forbidden("The presigned URL is invalid.")
    if not path.startswith(scope):
        raise Forbidden("The presigned URL is invalid.")
    if expires < time.time():
        raise Gone("The presigned URL has expired.")
