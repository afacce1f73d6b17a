"""Presigned URLs: HMAC-signed, expiring, bound to a subject (e.g. an upload id), a path prefix and
an HTTP method. They work without a bearer token; anything malformed or tampered with answers 403,
a genuine URL past its expiry 410 (DESIGN §3).

A URL may also name its holder (``holder``: the login session that made it), signed with the rest:
:func:`verify` returns it, and the caller refuses the URL once that session has ended.

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
HOLDER_PARAM = "holder"
SIGNED_PARAMS = (EXPIRES_PARAM, SCOPE_PARAM, SIGNATURE_PARAM, HOLDER_PARAM)
# What sign_params emits: a lower-case hex SHA-256 HMAC and a Unix time in whole seconds.
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_EXPIRES = re.compile(r"[0-9]{1,12}")
_HOLDER = re.compile(r"[0-9A-Za-z-]{1,64}")


def _key() -> bytes:
    return hashlib.sha256(b"ledgerdoc.presigned-url\x00" + settings.SECRET_KEY.encode()).digest()


def _mac(method: str, scope: str, subject: str, expires: int, holder: str = "") -> str:
    # surrogatepass: a scope or subject taken from a request can never make encoding fail.
    text = f"{method.upper()}\n{scope}\n{subject}\n{expires}"
    if holder:  # URLs without a holder keep the MAC they were issued with
        text += f"\n{holder}"
    message = text.encode("utf-8", "surrogatepass")
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def sign_params(
    *, method: str, scope: str, subject: str, expires_in: int, holder: str = ""
) -> dict[str, str]:
    """Query parameters that authorize ``method`` on paths under ``scope`` for ``subject`` (and
    name ``holder``, the login session the caller must check is still standing)."""
    if holder and not _HOLDER.fullmatch(holder):
        raise ValueError("A holder is a session id: letters, digits and '-'.")
    expires = int(time.time()) + max(1, int(expires_in))
    params = {
        EXPIRES_PARAM: str(expires),
        SCOPE_PARAM: scope,
        SIGNATURE_PARAM: _mac(method, scope, subject, expires, holder),
    }
    if holder:
        params[HOLDER_PARAM] = holder
    return params


def sign_query(
    *, method: str, scope: str, subject: str, expires_in: int, holder: str = ""
) -> str:
    return urlencode(sign_params(
        method=method, scope=scope, subject=subject, expires_in=expires_in, holder=holder
    ))


def is_presigned(params: Mapping[str, str]) -> bool:
    return SIGNATURE_PARAM in params


def verify(*, method: str, path: str, subject: str, params: Mapping[str, str]) -> str:
    """Pass when ``params`` sign this method, a prefix of ``path`` and ``subject``, unexpired;
    return the signed holder ("" when the URL names none).

    Malformed or tampered parameters raise 403 (Forbidden) whatever their expiry; a genuine
    signature past its expiry raises 410 (Gone). The signature is checked first, so the status
    never tells anything about an expiry nobody signed.
    """
    signature = params.get(SIGNATURE_PARAM) or ""
    scope = params.get(SCOPE_PARAM) or ""
    raw_expires = params.get(EXPIRES_PARAM) or ""
    holder = params.get(HOLDER_PARAM) or ""
    if not (_SIGNATURE.fullmatch(signature) and _EXPIRES.fullmatch(raw_expires) and scope):
        raise Forbidden("The presigned URL is invalid.")
    if holder and not _HOLDER.fullmatch(holder):
        raise Forbidden("The presigned URL is invalid.")
    expires = int(raw_expires)
    expected = _mac(method, scope, subject, expires, holder)
    if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
        raise Forbidden("The presigned URL is invalid.")
    if not path.startswith(scope):
        raise Forbidden("The presigned URL is invalid.")
    if expires < time.time():
        raise Gone("The presigned URL has expired.")
    return holder
