"""Gunicorn settings of the production server (Dockerfile, compose.yaml, ``make run``).

Gunicorn answers what it refuses before Django sees a request (a request line or headers too large,
a malformed request line) with an HTML page of its own. Every answer of the service is
``application/problem+json`` ``{title, status, detail}`` (apps/core/errors.py): the writer of those
early errors is replaced here, in the master, before the workers fork.

The command line still decides bind, workers, threads and timeouts; this file sets the limits, the
keep-alive and what gunicorn may write outside the project (nothing).
"""

from __future__ import annotations

import json
import os

from gunicorn import util

# The longest request line gunicorn accepts (its ceiling: larger values are lowered to it). A $filter
# of MAX_FILTER_LENGTH (2000) ASCII characters fits even fully percent-encoded; README "Long queries".
limit_request_line = 8190
limit_request_field_size = 8190

# Gunicorn 25.1+ opens a control socket for ``gunicornc`` in $XDG_RUNTIME_DIR or ~/.gunicorn/. Under
# the image's read-only home (/app) every start logged "[ERROR] Control server error: [Errno 13]
# Permission denied: '/app/.gunicorn'", and ``make run`` wrote ~/.gunicorn/ outside the project.
# Nothing here uses gunicornc: the orchestrator's signals (TERM, HUP, TTIN/TTOU) still work.
control_socket_disable = True

# Seconds an idle keep-alive connection stays open. It must outlast the idle timeout of whatever
# reuses connections in front of the nodes (AWS ALB 60 s by default, nginx `keepalive_timeout` 60 s
# for its upstream pool): when the server closes first, a request the balancer sends on the
# connection at that moment is lost (a 600 s soak at two nodes lost one POST so, with gunicorn's
# default of 2 s). 75 s outlasts a 60 s balancer; set GUNICORN_KEEPALIVE above the balancer's own.
# An idle connection costs the gthread worker a socket in its poller, not a thread.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))

_DETAILS = {
    414: f"The request line is longer than {limit_request_line} bytes. Shorten the URL; a long "
         "$filter can be sent in the body of POST /api/v1/batch.",
    431: "The request headers are too large.",
}


def problem_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error`` with a problem+json body instead of an HTML page."""
    detail = _DETAILS.get(status_int) or mesg or reason
    body = json.dumps({"title": reason, "status": status_int, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = problem_error
