"""The CI check for tracebacks in service logs (tests/service_logs.py) finds what Django, gunicorn
and Celery write, and only that."""

from __future__ import annotations

from tests import service_logs

DJANGO_500 = """\
[2026-12-07 04:00:00 +0000] [12] [INFO] Booting worker with pid: 12
ERROR 2026-12-07 04:00:01 django.request Internal Server Error: /ui/documents/
Traceback (most recent call last):
  File "/x/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
psycopg.errors.InvalidTextRepresentation: bad
During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/app.py", line 3, in view
    raise ValueError("x")
ValueError: invalid literal for int() with base 10: '\\xb2'
INFO 2026-12-07 04:00:02 a normal line
"""

CELERY = """\
[2026-12-07 04:00:03,000: ERROR/ForkPoolWorker-1] Task apps.uploads.tasks.finalize[abc] raised unexpected: KeyError('x')
Traceback (most recent call last):
  File "/x/celery/app/trace.py", line 453, in trace_task
    R = retval = fun(*args, **kwargs)
KeyError: 'x'
[2026-12-07 04:00:04,000: INFO/MainProcess] Task succeeded
"""


def test_tracebacks_are_found_with_the_line_that_names_the_request():
    found = service_logs.tracebacks(DJANGO_500 + CELERY)
    assert len(found) == 2
    assert found[0].startswith("ERROR") and "Internal Server Error: /ui/documents/" in found[0]
    assert found[0].rstrip().endswith("ValueError: invalid literal for int() with base 10: '\\xb2'")
    assert "a normal line" not in found[0]
    assert "finalize[abc]" in found[1] and found[1].rstrip().endswith("KeyError: 'x'")
    assert service_logs.tracebacks("INFO all fine\nWARNING slow\n") == []


def test_report_and_check_fail_only_on_unexpected(tmp_path, monkeypatch):
    log = tmp_path / "tracebacks.log"
    monkeypatch.setenv("LEDGERDOC_TRACEBACK_LOG", str(log))
    (tmp_path / "web.log").write_text(DJANGO_500)
    (tmp_path / "worker.log").write_text(CELERY)
    (tmp_path / "quiet.log").write_text("INFO nothing\n")
    assert service_logs.report("kills on purpose", [tmp_path / "worker.log"], expected="kill -9") == 1
    assert service_logs.check(log)[:2] == (0, 1)
    assert service_logs.main(["check", str(log)]) == 0
    assert service_logs.report("tests/x.py::test_y", [tmp_path / "web.log", tmp_path / "quiet.log"]) == 1
    unexpected, expected, headers = service_logs.check(log)
    assert (unexpected, expected) == (1, 1)
    assert "tests/x.py::test_y" in headers[0] and "web.log" in headers[0]
    assert service_logs.main(["check", str(log)]) == 1
