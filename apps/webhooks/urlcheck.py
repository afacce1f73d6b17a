"""Which URLs a webhook may target: http(s) only, no credentials in the URL, and no private,
loopback, link-local or otherwise internal address unless ``WEBHOOK_ALLOW_PRIVATE_URLS`` is on.

The address check runs twice: on the URL as given (an IP literal, ``localhost``), when the
subscription is saved, and on every address the host name resolves to, before each delivery (a
name that resolves to an internal address later is refused then).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.errors import BadRequest

MAX_URL = 2000
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class UnsafeURL(Exception):
    """The URL may not be called (its message says why)."""


def _private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False))


def _address_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_validate(url: object) -> str:
    """``url`` if it may be a webhook target, else 400."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise BadRequest({"url": f"An http(s) URL of at most {MAX_URL} characters."})
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise BadRequest({"url": "The URL must be ASCII without spaces or control characters (IDNA/percent-encode)."})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest({"url": "Not a valid URL."}) from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest({"url": "Only http and https URLs are accepted."})
    if not parts.hostname:
        raise BadRequest({"url": "The URL has no host."})
    if parts.username is not None or parts.password is not None:
        raise BadRequest({"url": "Credentials in the URL are not accepted; sign with the secret instead."})
    if parts.fragment:
        raise BadRequest({"url": "The URL may not have a fragment."})
    if port == 0:
        raise BadRequest({"url": "Port 0 is not a port."})
    if not _private_allowed():
        host = parts.hostname.rstrip(".").lower()
        literal = _literal(host)
        if host in LOCAL_NAMES or host.endswith(".localhost") or (literal is not None and _address_refused(literal)):
            raise BadRequest({"url": "Private, loopback and link-local targets are not accepted."})
    return url


def url_check_resolved(url: str) -> None:
    """Before a delivery: raise :class:`UnsafeURL` when the host resolves to a refused address."""
    if _private_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise UnsafeURL(f"The host '{host}' cannot be resolved.") from error
    for info in infos:
        address = _literal(info[4][0].split("%")[0])
        if address is None or _address_refused(address):
            raise UnsafeURL(f"The host '{host}' resolves to an address that is not public.")
