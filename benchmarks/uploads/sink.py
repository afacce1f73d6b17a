"""Baselines under the same gunicorn: a WSGI sink doing the engine's per-byte work, and a discard sink.

``sink:application`` reads each PUT body in UPLOAD_READ_BUFFER pieces (the engine's), hashes it
(SHA-256), writes it at its offset into the upload's file and fsyncs: what the upload engine does per
chunk, minus the framework. ``PUT /sink/<upload>/<index>?chunk=<size>``: each upload of the benchmark
has a name of its own, so its file is new (fresh block allocation, as an upload's).
``sink:discard`` reads and drops the body (the loopback limit).
"""

from __future__ import annotations

import hashlib
import json
import os

SINK_DIR = os.environ.get("SINK_DIR", "/tmp")
BLOCK = int(os.environ.get("UPLOAD_READ_BUFFER") or 1024 * 1024)  # same pieces as the engine
WRITE = int(os.environ.get("UPLOAD_WRITE_PIECE") or 128 * 1024)  # and the same writes


def _length(environ) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def application(environ, start_response):
    length = _length(environ)
    stream = environ["wsgi.input"]
    # /sink/<name>/<index>?chunk=<size>
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    name, index = (parts[1], int(parts[2])) if len(parts) >= 3 else ("x", 0)
    chunk = int((environ.get("QUERY_STRING") or "chunk=0").split("=")[-1] or 0)
    digest = hashlib.sha256()
    path = os.path.join(SINK_DIR, f"sink-{name}.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    position = index * chunk
    remaining = length
    try:
        while remaining:
            data = stream.read(min(BLOCK, remaining))
            if not data:
                break
            digest.update(data)
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view[:WRITE], position)
                position += written
                view = view[written:]
            remaining -= len(data)
        os.fsync(fd)
    finally:
        os.close(fd)
    body = json.dumps({"sha256": digest.hexdigest(), "size": length - remaining}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def discard(environ, start_response):
    length = _length(environ)
    stream = environ["wsgi.input"]
    while length:
        data = stream.read(min(BLOCK, length))
        if not data:
            break
        length -= len(data)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
