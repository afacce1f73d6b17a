"""A chunk's body read straight from gunicorn's client socket (``wire.SocketBody``).

gunicorn's own parser reads the request off a real socket pair; what the tests check is what a
client on a keep-alive connection relies on: the body's bytes exactly, and the next request on the
connection parsed where it starts, whether the body was read whole, in part, or not at all.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from apps.uploads import storage as st
from apps.uploads.wire import SocketBody, request_body_stream

SECOND = b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n"


def _put(body: bytes, path: str = "/one") -> bytes:
    return b"PUT %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (path.encode(), len(body))


@pytest.fixture
def pair():
    client, server = socket.socketpair()
    yield client, server
    client.close()
    server.close()


def _send_later(sock: socket.socket, data: bytes) -> threading.Thread:
    """Send ``data`` from another thread (a body larger than the socket buffers)."""
    thread = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
    thread.start()
    return thread


def _request(server: socket.socket):
    parser = RequestParser(Config(), server, ("127.0.0.1", 9))
    request = next(parser)
    environ = {"wsgi.input": request.body, "gunicorn.socket": server}
    return parser, request, environ


def _read_all(body: SocketBody, piece: int = 64 * 1024) -> bytes:
    buffer = bytearray(piece)
    out = bytearray()
    while count := body.readinto(buffer):
        out += buffer[:count]
    return bytes(out)


def test_reads_the_exact_body_and_the_next_request_starts_after_it(pair):
    client, server = pair
    body = os.urandom(3 * 1024 * 1024 + 17)
    sender = _send_later(client, _put(body) + body + SECOND)
    parser, _, environ = _request(server)
    direct = SocketBody.of(environ)
    assert direct is not None and direct.remaining == len(body)
    assert _read_all(direct) == body
    sender.join(5)
    assert direct.remaining == 0
    following = next(parser)
    assert (following.method, following.path) == ("GET", "/second")


def test_read_ahead_past_the_body_is_handed_back(pair):
    """A small body and the next request arrive in one segment: gunicorn read both ahead."""
    client, server = pair
    body = b"0123456789"
    client.sendall(_put(body) + body + SECOND)
    parser, _, environ = _request(server)
    direct = SocketBody.of(environ)
    assert _read_all(direct, piece=4) == body
    assert next(parser).path == "/second"


def test_a_body_read_in_part_is_drained_by_gunicorn_before_the_next_request(pair):
    """A chunk refused mid-body (413, taken over): gunicorn drains the rest, as before."""
    client, server = pair
    body = os.urandom(256 * 1024)
    sender = _send_later(client, _put(body) + body + SECOND)
    parser, _, environ = _request(server)
    direct = SocketBody.of(environ)
    buffer = bytearray(1000)
    assert direct.readinto(buffer) == 1000 and bytes(buffer) == body[:1000]
    assert direct.remaining == len(body) - 1000
    # gunicorn's own reader carries on where the direct reads stopped.
    assert direct.read(24) == body[1000:1024]
    assert next(parser).path == "/second"
    sender.join(5)


def test_a_client_gone_mid_body_fails_the_body_and_the_connection_is_not_reused(pair):
    client, server = pair
    body = os.urandom(100_000)
    client.sendall(_put(body) + body[:40_000])
    client.shutdown(socket.SHUT_WR)
    parser, request, environ = _request(server)
    direct = SocketBody.of(environ)
    reader = st.HashingReader(direct, len(body), len(body))
    with pytest.raises(st.ShortBody):
        while reader.readinto(memoryview(bytearray(16 * 1024))):
            pass
    assert reader.count == 40_000
    assert request.body.failed is True
    assert parser.finish_body() is False  # gunicorn closes it


def test_hashing_reader_over_the_socket_hashes_what_arrived(pair):
    client, server = pair
    body = os.urandom(2 * 1024 * 1024 + 5)
    sender = _send_later(client, _put(body) + body)
    _, _, environ = _request(server)
    reader = st.HashingReader(SocketBody.of(environ), len(body), len(body))
    buffer = memoryview(bytearray(1024 * 1024))
    total = 0
    while count := reader.readinto(buffer):
        total += count
    sender.join(5)
    assert total == len(body) == reader.count
    assert reader.sha256.hexdigest() == hashlib.sha256(body).hexdigest()


def test_a_body_already_read_through_gunicorn_is_not_read_again(pair):
    client, server = pair
    body = b"abcdef"
    client.sendall(_put(body) + body)
    _, request, environ = _request(server)
    request.body.buf.write(request.body.read(2))  # something kept bytes in gunicorn's reader
    assert SocketBody.of(environ) is None


def test_other_servers_and_chunked_bodies_keep_the_wsgi_stream(pair):
    client, server = pair
    client.sendall(b"PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    _, _, environ = _request(server)
    assert SocketBody.of(environ) is None  # chunked transfer: gunicorn's ChunkedReader
    assert SocketBody.of({"wsgi.input": object()}) is None


def test_request_body_stream_uses_the_socket_only_when_nothing_was_read(pair, rf):
    client, server = pair
    body = b"hello"
    client.sendall(_put(body) + body)
    _, _, environ = _request(server)
    request = rf.put("/x", data=b"", content_type="application/octet-stream")
    request.META.update(environ, CONTENT_LENGTH=str(len(body)))
    stream, length = request_body_stream(request)
    assert isinstance(stream, SocketBody) and length == 5
    request.META["CONTENT_LENGTH"] = "4"  # does not match what gunicorn has left: not trusted
    stream, length = request_body_stream(request)
    assert stream is request and length == 4


def test_bytes_left_in_gunicorns_reader_by_a_small_read_come_first(pair):
    """``read`` through gunicorn's reader keeps what it read beyond the asked size; ``readinto``
    serves that first, so nothing is skipped when the two are mixed."""
    client, server = pair
    body = os.urandom(200_000)
    sender = _send_later(client, _put(body) + body + SECOND)
    parser, _, environ = _request(server)
    direct = SocketBody.of(environ)
    head = direct.read(10)  # gunicorn reads at least 1 KiB and keeps the rest
    assert head == body[:10]
    assert head + _read_all(direct, piece=4096) == body
    assert next(parser).path == "/second"
    sender.join(5)
