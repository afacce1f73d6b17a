"""Tracebacks in the logs of the services a test run started: gunicorn nodes, Celery workers.

A request that ends in a 500 or a task that raises leaves ``Traceback (most recent call last)`` in
its process's log even when the test that caused it passed (the client saw a retry, a 503, a
finished upload). Every deployment started for tests (``tests/live.py``), by the benchmarks and by
the API fuzz run reports the tracebacks of its logs to ``LEDGERDOC_TRACEBACK_LOG`` when it stops;
``.ci/run`` adds the log of its own worker and fails on any traceback that is not expected.

Expected ones are named, never matched by pattern: a deployment whose test kills processes on
purpose says why (``LiveStack(tracebacks_expected="...")``) and its entries are marked with that
reason. Everything else fails CI.

    python -m tests.service_logs scan --label NAME FILE...   # report FILEs' tracebacks to the log
    python -m tests.service_logs check LOG                   # exit 1 on any unexpected one
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

MARK = "Traceback (most recent call last):"
HEADER = re.compile(r"^== (?P<label>.*?) :: (?P<file>.*?) :: (?P<count>\d+) traceback\(s\)(?P<expected> expected: .*)?$")
# A traceback's body: indented frames, "During handling ..." chains, blank lines between chained
# parts; it ends with the exception line (the first line that is none of these).
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")


def tracebacks(text: str) -> list[str]:
    """Each traceback of ``text`` with the log line before it (which says which request or task)."""
    lines = text.splitlines()
    found: list[str] = []
    index = 0
    while index < len(lines):
        if MARK not in lines[index]:
            index += 1
            continue
        start = index - 1 if index and lines[index - 1].strip() else index
        end = index + 1
        while end < len(lines):
            line = lines[end]
            end += 1
            if line.startswith((" ", "\t")) or MARK in line or line.startswith(_CHAIN) or not line.strip():
                continue
            # The exception line. A chained exception ("During handling ...") goes on after it.
            following = end
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following < len(lines) and lines[following].startswith(_CHAIN):
                end = following
                continue
            break
        found.append("\n".join(lines[start:end]))
        index = end
    return found


def report(label: str, paths: Iterable[Path], expected: str = "") -> int:
    """Append the tracebacks of ``paths`` to ``LEDGERDOC_TRACEBACK_LOG`` (when set); their number."""
    total = 0
    target = os.environ.get("LEDGERDOC_TRACEBACK_LOG")
    for path in sorted(Path(p) for p in paths):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = tracebacks(text)
        total += len(found)
        if found and target:
            reason = f" expected: {expected}" if expected else ""
            with open(target, "a", encoding="utf-8") as out:
                out.write(f"== {label} :: {path} :: {len(found)} traceback(s){reason}\n")
                for block in found:
                    out.write(block + "\n\n")
    return total


def check(log: Path) -> tuple[int, int, list[str]]:
    """(unexpected, expected, headers of the unexpected entries) in a report log."""
    unexpected = expected = 0
    headers: list[str] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = HEADER.match(line)
        if not match:
            continue
        if match["expected"]:
            expected += int(match["count"])
        else:
            unexpected += int(match["count"])
            headers.append(line)
    return unexpected, expected, headers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan")
    scan.add_argument("--label", required=True)
    scan.add_argument("files", nargs="+", type=Path)
    verify = commands.add_parser("check")
    verify.add_argument("log", type=Path)
    args = parser.parse_args(argv)
    if args.command == "scan":
        print(f"{report(args.label, args.files)} traceback(s) in {len(args.files)} log(s) of {args.label}")
        return 0
    unexpected, expected, headers = check(args.log)
    print(f"service logs: {unexpected} unexpected traceback(s), {expected} expected (named)")
    for header in headers:
        print(header)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
