"""A real HTTP receiver for webhook tests, and an independent Standard Webhooks verifier.

The verifier is written from the specification (https://www.standardwebhooks.com/), not from the
server's code: the signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, the key is the
base64 part of the ``whsec_`` secret, and ``webhook-signature`` is a space-separated list of
``v1,<base64 HMAC-SHA256>`` of which one must match; the timestamp must be within 5 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict:
    """The JSON payload when the headers sign ``body`` with ``secret``; else SignatureError."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing headers")
    if not stamp.isascii() or not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp out of tolerance")
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, msg_id.encode() + b"." + stamp.encode() + b"." + body, hashlib.sha256).digest()
    ).decode()
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise SignatureError("no signature matches")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """ThreadingHTTPServer on 127.0.0.1: records every POST, answers the next queued status (200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                ))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, secret: str) -> list[dict]:
        return [verify(secret, r.headers, r.body) for r in self.requests]
