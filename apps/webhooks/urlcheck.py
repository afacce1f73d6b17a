"""Which URLs a webhook may target: http(s) only, no credentials in the URL, and no private,
loopback, link-local or otherwise non-public address unless ``WEBHOOK_ALLOW_PRIVATE_URLS`` is on.

One guard, used when a subscription is saved and again before each delivery:

- The host is normalized first, as the resolver and the HTTP library would read it: a name ending in
  a number is an IPv4 address in ``inet_aton`` / WHATWG form (``2130706433``, ``0177.0.0.1``,
  ``0x7f.1``, ``127.1``); such a non-canonical form is refused even when public, because parsers
  disagree on it (Python reads ``010.0.0.1`` as invalid, ``inet_aton`` as 8.0.0.1, others as 10.0.0.1).
  IPv6 zone ids (``[fe80::1%25eth0]``) are refused; one trailing dot of a name is dropped.
- An address is judged with every IPv4 address it carries: IPv4-mapped ``::ffff:a.b.c.d`` and NAT64
  ``64:ff9b::/96`` are judged by that IPv4 address (a DNS64 network gives every IPv4-only receiver
  such an address, so a public one is accepted); 6to4 ``2002::/16`` is refused when its IPv4 address is
  not public; Teredo ``2001::/32`` (server and client) lies in the non-public ``2001::/23`` and is
  always refused, as are IPv4-compatible ``::a.b.c.d``, the local-use NAT64 ``64:ff9b:1::/48`` and
  every other IPv6 address outside global unicast ``2000::/3``.
- Local names are refused without asking DNS: ``localhost`` and ``*.localhost``, single-label names
  (the resolver's search list or mDNS makes them internal), ``.local``, ``.localdomain``,
  ``.internal``, ``.home.arpa``, and a name ``/etc/hosts`` maps to a refused address. At save time the
  name is also resolved, for at most ``WEBHOOK_SAVE_RESOLVE_SECONDS`` (1 s): every address it gives
  is judged; a name that does not resolve then is accepted (DNS may be down or the receiver not yet
  published), because the delivery check decides.
- Before each delivery every address the name resolves to is judged, and the connection goes to
  those checked addresses (:func:`session_pinned`): the HTTP library does not resolve the name again,
  so a DNS answer that changes between the check and the connection (rebinding) is not followed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from apps.core.errors import BadRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2000
HOSTS_FILE = "/etc/hosts"
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

# Non-public IPv4 ranges (IANA special-purpose registry), refused whatever this Python's
# ``is_global`` says (its lists grew over 3.11-3.13: 192.0.0.0/24, multicast).
V4_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
V6_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
V6_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
# Inside 2000::/3 and not public: IETF protocol assignments (Teredo, benchmarking, ORCHID),
# documentation.
V6_REFUSED = tuple(ipaddress.ip_network(n) for n in ("2001::/23", "2001:db8::/32", "3fff::/20"))


class UnsafeURL(Exception):
    """The URL may not be called (its message says why)."""


def _private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False))


def _v4_refusal(address: ipaddress.IPv4Address) -> str | None:
    if any(address in network for network in V4_REFUSED) or not address.is_global:
        return f"{address} is not a public address"
    return None


def address_refusal(address: Address) -> str | None:
    """Why ``address`` may not be a webhook target (an IPv4 address it carries included), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return _v4_refusal(address)
    if address.scope_id:
        return f"{address} has a zone id"
    if address in V6_MAPPED or address in NAT64:
        carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        refusal = _v4_refusal(carried)
        return f"{address} carries {carried}, which is not public" if refusal else None
    if address in V6_COMPATIBLE:  # ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        return f"{address} is not a public address"
    carried_all: list[ipaddress.IPv4Address] = []
    if address in SIX_TO_FOUR and address.sixtofour is not None:
        carried_all.append(address.sixtofour)
    if address in TEREDO and address.teredo is not None:
        carried_all.extend(address.teredo)
    for carried in carried_all:
        if _v4_refusal(carried):
            return f"{address} carries {carried}, which is not public"
    if address in NAT64_LOCAL:
        return f"{address} is in the local-use NAT64 prefix 64:ff9b:1::/48"
    if (address not in V6_GLOBAL_UNICAST or any(address in network for network in V6_REFUSED)
            or not address.is_global):
        return f"{address} is not a public address"
    return None


def _ipv4_part(part: str) -> int | None:
    """One part of an ``inet_aton`` address: ``0x`` hex, a leading ``0`` octal, else decimal."""
    if part.startswith("0x"):
        digits, base = part[2:], 16
        if not digits:
            return 0
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def ipv4_parse(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``inet_aton`` (and a WHATWG URL parser) reads in ``host``, or None:
    1 to 4 parts, each decimal, octal or hex, the last filling the remaining bytes."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def host_normalize(hostname: str, *, bracketed: bool) -> tuple[str, Address | None]:
    """``(name, address)`` of a URL's host: the lowercase name without a trailing dot, and the IP
    address when the host is one in any form. Raises :class:`UnsafeURL` for a host no resolver
    should be asked about (zone id, bad syntax, a number that is no IPv4 address)."""
    host = hostname.lower()
    if bracketed:
        if "%" in host:
            raise UnsafeURL("IPv6 zone ids are not accepted.")
        try:
            return host, ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeURL("Not a valid IPv6 address.") from None
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or len(host) > 253 or any(not label for label in labels):
        raise UnsafeURL("Not a valid host name.")
    if NUMERIC_LABEL.fullmatch(labels[-1]):
        # A name ending in a number is an IPv4 address to URL parsers and to inet_aton.
        address = ipv4_parse(host)
        if address is None:
            raise UnsafeURL("Not a valid host: it ends in a number but is no IPv4 address.")
        return host, address
    if not all(LABEL.fullmatch(label) for label in labels):
        raise UnsafeURL("Not a valid host name (ASCII letters, digits and hyphens; IDNA for others).")
    return host, None


def _is_local_name(host: str) -> bool:
    return "." not in host or host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES)


_hosts_cache: tuple[float, dict[str, list[Address]]] | None = None


def hosts_file_addresses(host: str) -> list[Address]:
    """The addresses ``/etc/hosts`` gives ``host`` (re-read when the file changes)."""
    global _hosts_cache
    try:
        mtime = os.stat(HOSTS_FILE).st_mtime
    except OSError:
        return []
    if _hosts_cache is None or _hosts_cache[0] != mtime:
        table: dict[str, list[Address]] = {}
        try:
            with open(HOSTS_FILE, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    fields = line.split("#", 1)[0].split()
                    if len(fields) < 2:
                        continue
                    try:
                        address = ipaddress.ip_address(fields[0])
                    except ValueError:
                        continue
                    for name in fields[1:]:
                        table.setdefault(name.lower().rstrip("."), []).append(address)
        except OSError:
            return []
        _hosts_cache = (mtime, table)
    return list(_hosts_cache[1].get(host, []))


def _getaddrinfo_addresses(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to for a TCP connection, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[Address] = []
    for info in infos:
        sockaddr = info[4]
        text = str(sockaddr[0])
        if info[0] == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3] and "%" not in text:
            text = f"{text}%{sockaddr[3]}"  # the scope id: refused by address_refusal
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    return addresses


_resolver: ThreadPoolExecutor | None = None


def _resolve_bounded(host: str, port: int) -> list[Address] | None:
    """The addresses of ``host`` if the resolver answers within the save-time bound, else None.
    A few threads at most: a slow DNS server delays saves by the bound, never piles up threads."""
    global _resolver
    if _resolver is None:
        _resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-resolve")
    seconds = float(getattr(settings, "WEBHOOK_SAVE_RESOLVE_SECONDS", 1.0))
    future = _resolver.submit(_getaddrinfo_addresses, host, port)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()
        return None
    except (OSError, UnicodeError):
        return None


def _judge(host: str, addresses: Sequence[Address]) -> None:
    """UnsafeURL unless every address of ``host`` is public."""
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            said = refusal if host == str(address) else f"the host '{host}' is {address}: {refusal}"
            raise UnsafeURL(f"{said[0].upper()}{said[1:]}. Private, loopback and link-local targets are not accepted.")


def _url_form(url: object) -> tuple[str, Address | None, int]:
    """``(host, address, port)`` of a URL whose form may be a webhook target: http(s), no
    credentials or fragment, the host normalized by :func:`host_normalize`; an address host must be
    public and an IPv4 one canonical, a name not local. :class:`UnsafeURL` says what is wrong. No DNS."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise UnsafeURL(f"An http(s) URL of at most {MAX_URL} characters.")
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise UnsafeURL("The URL must be ASCII without spaces or control characters (IDNA/percent-encode).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("Not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs are accepted.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("Credentials in the URL are not accepted; sign with the secret instead.")
    if parts.fragment:
        raise UnsafeURL("The URL may not have a fragment.")
    if port == 0:
        raise UnsafeURL("Port 0 is not a port.")
    bracketed = parts.netloc.rpartition("@")[2].startswith("[")
    host, address = host_normalize(parts.hostname, bracketed=bracketed)
    if address is not None and not _private_allowed():
        _judge(host, [address])
    if isinstance(address, ipaddress.IPv4Address) and str(address) != host:
        raise UnsafeURL(f"Write the IPv4 address {address} as four decimal numbers, not '{host}'.")
    if address is None and _is_local_name(host) and not _private_allowed():
        raise UnsafeURL(f"The host '{host}' is a local name: private targets are not accepted.")
    return host, address, port or (443 if parts.scheme == "https" else 80)


def url_validate(url: object) -> str:
    """``url`` if it may be a webhook target, else 400 (the save-time check): its form, and every
    address ``/etc/hosts`` and, within the bound, the resolver give its host."""
    try:
        host, address, port = _url_form(url)
        if address is None and not _private_allowed():
            _judge(host, hosts_file_addresses(host))
            _judge(host, _resolve_bounded(host, port) or [])
    except UnsafeURL as refusal:
        raise BadRequest({"url": str(refusal)}) from None
    return str(url)


def url_check_resolved(url: str) -> list[Address]:
    """Before a delivery: the addresses to connect to, every one checked; :class:`UnsafeURL` when
    the URL's form is refused (as :func:`url_validate` refuses it) or its host is, or resolves to,
    an address that is not public, or does not resolve.

    With ``WEBHOOK_ALLOW_PRIVATE_URLS`` no address is refused and a name that does not resolve gives
    ``[]`` (the HTTP library then resolves it and fails as a network error, retried)."""
    host, address, port = _url_form(url)
    if address is not None:
        return [address]
    try:
        addresses = _getaddrinfo_addresses(host, port)
    except (OSError, UnicodeError, ValueError) as error:
        if _private_allowed():
            return []
        raise UnsafeURL(f"The host '{host}' cannot be resolved.") from error
    if not _private_allowed():
        if not addresses:
            raise UnsafeURL(f"The host '{host}' cannot be resolved.")
        _judge(host, addresses)
    return addresses


def _pinned_classes(addresses: Sequence[Address]) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections open a socket to ``addresses`` (in order, the next one
    when one refuses) instead of resolving the host; the Host header, TLS SNI and certificate
    check still use the URL's host name."""
    targets = tuple(str(address) for address in addresses)

    class PinnedConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            failure: NewConnectionError | None = None
            for target in targets:
                try:
                    sock = urllib3_connection.create_connection(
                        (target, self.port), self.timeout, source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as error:
                    raise ConnectTimeoutError(
                        self, f"Connection to {self.host} ({target}) timed out. (connect timeout={self.timeout})",
                    ) from error
                except OSError as error:
                    failure = NewConnectionError(self, f"Failed to establish a new connection to {target}: {error}")
                    continue
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
            raise failure or NewConnectionError(self, "No address to connect to.")

    class PinnedHTTPSConnection(PinnedConnection, HTTPSConnection):
        pass

    class PinnedPool(HTTPConnectionPool):
        ConnectionCls = PinnedConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedPool, "https": PinnedHTTPSPool}


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, addresses: Sequence[Address]) -> None:
        self._pool_classes = _pinned_classes(addresses)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


def session_pinned(addresses: Sequence[Address]) -> requests.Session:
    """A session without proxies or .netrc from the environment whose connections go to
    ``addresses`` (those :func:`url_check_resolved` checked); with none, it resolves as usual."""
    session = requests.Session()
    session.trust_env = False
    if addresses:
        adapter = _PinnedAdapter(addresses)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session
