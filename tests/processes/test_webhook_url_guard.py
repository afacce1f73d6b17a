"""The webhook URL guard (issue 24, item 1): every host form that spells or carries a non-public
address is refused when a subscription is saved (the API answers a 400 problem body about the url)
and by the check before each delivery (``getaddrinfo`` stubbed to answer those addresses); public
targets pass; and the delivery connects to the address that was checked, never resolving again.

Decisions the tests pin down:
- ``64:ff9b::/96`` (NAT64) carrying a public IPv4 address is accepted: on a DNS64 network every
  IPv4-only receiver has such an address. Carrying a non-public one, it is refused.
- 6to4 ``2002::/16`` carrying a public IPv4 address is accepted, otherwise refused.
- Teredo ``2001::/32`` is refused whatever its server and client addresses (2001::/23 is not public).
- IPv4-compatible ``::a.b.c.d`` and local-use NAT64 ``64:ff9b:1::/48`` are refused even when the
  IPv4 address is public (deprecated / network-specific: no public route).
- A numeric IPv4 host in any form but four decimal numbers is refused even when public
  (``010.0.0.1`` is 8.0.0.1 to inet_aton, 10.0.0.1 to other parsers, invalid to Python).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from apps.webhooks import services, urlcheck
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.urlcheck import UnsafeURL, url_check_resolved
from tests.problems import bad_request
from tests.processes.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def teredo(server: str, client: str) -> str:
    """A Teredo address (RFC 4380): 2001:0:<server>:<flags>:<~port>:<~client>."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48)
    value |= (0xFFFF ^ 40000) << 32 | (0xFFFFFFFF ^ int(ipaddress.IPv4Address(client)))
    address = ipaddress.IPv6Address(value)
    assert address.teredo == (ipaddress.IPv4Address(server), ipaddress.IPv4Address(client))
    return str(address)


# IPv6 addresses that are (or carry) a non-public address: refused as a URL literal and as a
# resolved address.
REFUSED_V6 = [
    "::a9fe:a9fe", "::7f00:1", "::a00:1", "::169.254.169.254",     # IPv4-compatible
    "::5db8:d70e",                                                   # ... even of a public IPv4
    "::ffff:a9fe:a9fe", "::ffff:127.0.0.1", "::ffff:10.0.0.1",     # IPv4-mapped
    "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b::127.0.0.1", "64:ff9b::c0a8:101",  # NAT64
    "64:ff9b::", "64:ff9b::e000:1",
    "64:ff9b:1::a9fe:a9fe", "64:ff9b:1::5db8:d70e", "64:ff9b:1:a9fe:a9:fe00::",  # local-use NAT64
    "2002:a9fe:a9fe::", "2002:7f00:1::1", "2002:a00:1:1::1", "2002:c0a8:101::", "2002::",  # 6to4
    teredo("10.0.0.1", "93.184.215.14"), teredo("93.184.215.14", "127.0.0.1"),               # Teredo
    teredo("93.184.215.14", "169.254.169.254"), teredo("65.54.227.120", "93.184.215.14"),
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "100::1",
    "2001:db8::1", "2001:2::1", "2001:10::1", "3fff::1", "fec0::1", "5f00::1",
]
REFUSED_V4 = [
    "127.0.0.1", "10.0.0.1", "169.254.169.254", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0",
    "192.0.0.8", "192.0.2.1", "198.18.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
]
# Numeric IPv4 hosts in inet_aton / WHATWG forms, and what they are.
NUMERIC_FORMS = [
    ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.0.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"), ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"), ("169.254.43518", "169.254.169.254"),
    ("2852039166", "169.254.169.254"), ("0251.0376.0251.0376", "169.254.169.254"), ("10.1", "10.0.0.1"),
    ("3232235777", "192.168.1.1"), ("0", "0.0.0.0"), ("0x", "0.0.0.0"), ("127.0.0.1.", "127.0.0.1"),
    ("2130706433.", "127.0.0.1"),
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001:80b::200e",
          "64:ff9b::5db8:d70e", "64:ff9b::8.8.8.8", "2002:5db8:d70e::1"]


def _url(host: str) -> str:
    return f"http://[{host}]/in" if ":" in host else f"http://{host}/in"


def refused_urls() -> list[str]:
    return [
        *(_url(a) for a in REFUSED_V6 + REFUSED_V4),
        *(_url(form) for form, _ in NUMERIC_FORMS),
        "http://[fe80::1%25eth0]/", "http://[fe80::a9fe:a9fe%251]/", "http://[2606:4700::1111%25eth0]/",  # zone ids
        "http://[::ffff:169.254.169.254]:8080/x", "https://[0:0:0:0:0:ffff:7f00:1]/",
        "http://localhost./", "http://LOCALHOST/", "http://app.localhost./", "http://printer.local/",
        "http://metadata.google.internal/", "http://router.home.arpa/", "http://intranet/", "http://metadata/",
        # Ends in a number but no IPv4 address: URL parsers refuse it; so do we.
        "http://1.2.3.4.5/", "http://256.0.0.1/", "http://08.0.0.1/", "http://0x1g.0.0.1/", "http://a.b.0x1/",
        "http://4294967296/", "http://1.16777216/", "http://1.2.65536/",
        # Non-canonical forms of public addresses: parsers disagree on them.
        "http://010.0.0.1/", "http://0x5db8d70e/", "http://1572394766/", "http://93.184.55054/",
        # Not a host name a resolver should be asked about.
        "http://exa$mple.com/", "http://exa%2e.com/", "http://a..b.com/", "http://example.com../",
    ]


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_SAVE_RESOLVE_SECONDS = 1.0


@pytest.fixture
def resolver(monkeypatch):
    """``getaddrinfo`` answering ``answers[name]`` (a list of addresses), raising for other names
    and counting every call per host; IP literals go to the real one (the HTTP library asks it)."""
    answers: dict[str, list[str]] = {}
    calls: dict[str, int] = {}

    def fake(host, port, *args, **kwargs):
        host = host.decode() if isinstance(host, bytes) else host
        calls[host] = calls.get(host, 0) + 1
        try:
            ipaddress.ip_address(host)
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        except ValueError:
            pass
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        found = answers[host]
        if callable(found):
            found = found(calls[host])
        result = []
        for text in found:
            if ":" in text:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (text, port or 0, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (text, port or 0)))
        return result

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    fake.answers, fake.calls = answers, calls
    return fake


def _create(client, url):
    return client.post("/api/v1/webhooks", {"url": url, "events": ["record.created"]}, format="json")


def _refused_on_save(client, url) -> str:
    body = bad_request(_create(client, url))
    assert "url" in body["detail"], body
    assert not WebhookEndpoint.objects.filter(url=url).exists()
    return str(body["detail"]["url"] if isinstance(body["detail"], dict) else body["detail"])


# --- save time -------------------------------------------------------------------------------

# The save-time sweeps loop inside one test each: every case is a request on the same demo (a
# parametrized test would load the whole demo again for each of about 200 URLs).
def _each(cases, check) -> None:
    failed = []
    for case in cases:
        try:
            check(*case) if isinstance(case, tuple) else check(case)
        except AssertionError as error:
            failed.append(f"{case!r}: {str(error)[:300]}")
    assert not failed, f"{len(failed)} of {len(cases)} failed:\n" + "\n".join(failed)


def test_refused_on_save(garden_admin, strict, resolver):
    _each(refused_urls(), lambda url: _refused_on_save(garden_admin, url))


def test_numeric_hosts_are_read_as_inet_aton_reads_them(garden_admin, strict, resolver):
    _each(NUMERIC_FORMS, lambda form, address: _numeric_host(garden_admin, form, address))


def _numeric_host(garden_admin, form: str, address: str) -> None:
    assert str(urlcheck.ipv4_parse(form.lower().rstrip("."))) == address
    # The C library (whose getaddrinfo the HTTP library asks) reads the same address, or, for the
    # WHATWG-only forms ("0x", a trailing dot), none at all: never another one.
    try:
        read = REAL_GETADDRINFO(form, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror:
        assert form in ("0x", "127.0.0.1.", "2130706433."), form
    else:
        assert read == address
    assert address in _refused_on_save(garden_admin, f"http://{form}/in")


def test_public_addresses_accepted(garden_admin, strict, resolver):
    def accepted(address: str) -> None:
        response = _create(garden_admin, _url(address))
        assert response.status_code == 201, response.content
        assert response.json()["url"] == _url(address)

    _each(PUBLIC, accepted)


def test_public_names_accepted_and_unresolvable_names_left_to_delivery(garden_admin, strict, resolver):
    resolver.answers["hooks.example.com"] = ["93.184.215.14", "2606:4700::1111"]
    assert _create(garden_admin, "https://hooks.example.com/in").status_code == 201
    assert _create(garden_admin, "https://hooks.example.com./in").status_code == 201
    # No DNS answer at save time: accepted (the delivery check decides).
    assert _create(garden_admin, "https://not-yet-published.example.org/in").status_code == 201
    assert resolver.calls["not-yet-published.example.org"] == 1


def test_name_resolving_to_non_public_refused_on_save(garden_admin, strict, resolver):
    def refused(answer: list[str]) -> None:
        resolver.answers["internal.example.com"] = answer
        _refused_on_save(garden_admin, "https://internal.example.com/in")

    _each([["10.0.0.7"], ["93.184.215.14", "169.254.169.254"], ["::a9fe:a9fe"],
           ["2606:4700::1111", "64:ff9b::a00:1"], ["2002:a9fe:a9fe::"]], refused)


def test_slow_resolver_does_not_hold_the_save(garden_admin, strict, settings, monkeypatch):
    settings.WEBHOOK_SAVE_RESOLVE_SECONDS = 0.2
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    try:
        response = _create(garden_admin, "https://slow-dns.example.com/in")
    finally:
        release.set()
    assert response.status_code == 201, response.content
    assert time.monotonic() - started < 3


def _hosts_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    if not os.path.exists("/etc/hosts"):
        return names
    with open("/etc/hosts", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2:
                for name in fields[1:]:
                    names.setdefault(name.lower(), []).append(fields[0])
    return names


LOCALHOST_ALIASES = ["localhost", "LocalHost", "localhost.", "localhost.localdomain", "ip6-localhost",
                     "ip6-loopback", "a.b.localhost", socket.gethostname()]


def test_local_and_etc_hosts_names(garden_admin, strict):
    """Every name of this machine's /etc/hosts (read here, none skipped) and the localhost aliases,
    with the real resolver: a name that is local or maps to a non-public address is refused."""
    _each(sorted(set(LOCALHOST_ALIASES) | set(_hosts_names())), lambda name: _local_name(garden_admin, name))


def _local_name(garden_admin, name: str) -> None:
    listed = _hosts_names().get(name.lower().rstrip("."), [])
    public = bool(listed) and all(
        ipaddress.ip_address(a.split("%")[0]).is_global and not ipaddress.ip_address(a.split("%")[0]).is_multicast
        for a in listed
    )
    if "." in name.rstrip(".") and public and not name.lower().rstrip(".").endswith(urlcheck.LOCAL_SUFFIXES):
        assert _create(garden_admin, f"http://{name}/in").status_code == 201
    else:
        _refused_on_save(garden_admin, f"http://{name}/in")
        with pytest.raises(UnsafeURL):
            url_check_resolved(f"http://{name}/in")


def test_etc_hosts_entry_refused_without_dns(garden_admin, strict, resolver, monkeypatch, tmp_path):
    """A dotted name /etc/hosts maps to a private address is refused even when the resolver does
    not answer (the file is read, not only asked through getaddrinfo)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.1.2.3 billing.corp.example.com billing # ERP\n"
                     "93.184.215.14 partner.example.com\n")
    monkeypatch.setattr(urlcheck, "HOSTS_FILE", str(hosts))
    monkeypatch.setattr(urlcheck, "_hosts_cache", None)
    assert "10.1.2.3" in _refused_on_save(garden_admin, "https://billing.corp.example.com/in")
    assert _create(garden_admin, "https://partner.example.com/in").status_code == 201


def test_private_allowed_keeps_working(garden_admin, settings, resolver):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    for url in ("http://127.0.0.1:8000/x", "http://[::a9fe:a9fe]/", "http://localhost/", "http://runner/"):
        assert _create(garden_admin, url).status_code == 201, url
    bad_request(_create(garden_admin, "http://[fe80::1%25eth0]/"))  # a zone id is never accepted


# --- delivery time ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", REFUSED_V6 + REFUSED_V4 + ["fe80::1%eth0"])
def test_resolved_address_refused_before_delivery(strict, resolver, address):
    resolver.answers["hook.example.com"] = [address]
    with pytest.raises(UnsafeURL, match=r"not a public|which is not public|zone id|local-use"):
        url_check_resolved("https://hook.example.com/in")
    # One refused address among public ones is enough.
    resolver.answers["hook.example.com"] = ["93.184.215.14", "2606:4700::1111", address]
    with pytest.raises(UnsafeURL):
        url_check_resolved("https://hook.example.com/in")


@pytest.mark.parametrize("url", refused_urls())
def test_refused_urls_refused_before_delivery(strict, resolver, url):
    """A stored URL (saved before this guard, or with the setting on) is judged again at delivery,
    literals without asking the resolver."""
    with pytest.raises(UnsafeURL) as refused:
        url_check_resolved(url)
    assert "cannot be resolved" not in str(refused.value)
    assert sum(resolver.calls.values()) == 0


def test_public_answers_are_the_addresses_delivered_to(strict, resolver):
    resolver.answers["hook.example.com"] = ["93.184.215.14", "2606:4700::1111", "93.184.215.14", "64:ff9b::808:808"]
    assert url_check_resolved("https://hook.example.com/in") == [
        ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("2606:4700::1111"),
        ipaddress.ip_address("64:ff9b::808:808"),
    ]
    assert url_check_resolved("http://[2606:4700::1111]:8443/x") == [ipaddress.ip_address("2606:4700::1111")]
    with pytest.raises(UnsafeURL, match="cannot be resolved"):
        url_check_resolved("https://gone.example.com/in")


@pytest.fixture
def delivery(garden):
    def make(url: str) -> WebhookDelivery:
        endpoint = WebhookEndpoint.objects.create(client=garden, org_id=0, url=url, events=["*"])
        return WebhookDelivery.objects.create(client=garden, org_id=0, endpoint=endpoint, message_id="msg_guard",
                                              event_type="record.created", body='{"type":"record.created"}')
    return make


def test_delivery_connects_to_the_checked_address(settings, resolver, delivery):
    """DNS rebinding: the name answers the receiver's loopback address to the check, then another
    address to anyone who asks again; the POST still reaches the receiver, named by its host."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    receiver = Receiver()
    try:
        port = receiver.server.server_address[1]
        resolver.answers["rebind.example.com"] = lambda call: ["127.0.0.1"] if call == 1 else ["192.0.2.1"]
        row = delivery(f"http://rebind.example.com:{port}/hooks")
        assert services.delivery_attempt(delivery_id=row.pk) is None
        row.refresh_from_db()
        assert (row.status, row.response_code) == ("succeeded", 200), row.last_error
        assert resolver.calls["rebind.example.com"] == 1
        assert len(receiver.requests) == 1
        assert receiver.requests[0].headers["host"] == f"rebind.example.com:{port}"
        assert receiver.requests[0].path == "/hooks"
    finally:
        receiver.close()


def test_delivery_refused_when_the_name_now_resolves_inside(strict, resolver, delivery):
    resolver.answers["hook.example.com"] = ["169.254.169.254"]
    row = delivery("https://hook.example.com/in")
    assert services.delivery_attempt(delivery_id=row.pk) is None
    row.refresh_from_db()
    assert row.status == "failed" and row.attempts == 1 and "169.254.169.254" in row.last_error


def test_public_delivery_is_pinned_to_the_checked_address(strict, resolver, delivery, monkeypatch):
    """Under the strict guard: the check sees a public address, a second lookup would give
    loopback; the socket is opened to the public address only (stubbed: no network here)."""
    opened: list[tuple[str, int]] = []

    def connect(address, *args, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urlcheck.urllib3_connection, "create_connection", connect)
    resolver.answers["hook.example.com"] = lambda call: ["93.184.215.14", "2606:4700::1111"] if call == 1 \
        else ["127.0.0.1"]
    row = delivery("https://hook.example.com/in")
    services.delivery_attempt(delivery_id=row.pk)
    row.refresh_from_db()
    assert row.status == "pending" and "did not answer" in row.last_error  # a network error: retried
    assert opened == [("93.184.215.14", 443), ("2606:4700::1111", 443)]
    assert resolver.calls["hook.example.com"] == 1


def test_pinned_https_keeps_the_name_for_sni_and_certificate(tmp_path):
    """Pinned to 127.0.0.1, an https request still sends the name in SNI and Host and checks the
    certificate against it (a certificate for another name is refused)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=pinned.example.com",
                    "-addext", "subjectAltName=DNS:pinned.example.com"], check=True, capture_output=True)
    seen: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.sni_callback = lambda sock, name, ctx: seen.update(sni=name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with urlcheck.session_pinned([ipaddress.ip_address("127.0.0.1")]) as session:
            response = session.get(f"https://pinned.example.com:{port}/x", verify=str(cert), timeout=5)
            assert response.status_code == 200
            assert seen == {"sni": "pinned.example.com", "host": f"pinned.example.com:{port}"}
            with pytest.raises(requests.exceptions.SSLError):
                session.get(f"https://other.example.com:{port}/x", verify=str(cert), timeout=5)
    finally:
        server.shutdown()
        server.server_close()
