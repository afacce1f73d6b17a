#!/usr/bin/env python3
"""Run the curl examples of the API guides (docs/*.md) against a live Ledgerdoc.

    python3 docs/check_examples.py                                  # http://127.0.0.1:8000 (make run)
    python3 docs/check_examples.py --base-url http://127.0.0.1:8123 docs/uploads.md

Every block fenced as ```sh in a guide is an example: the blocks of one guide run in order, in one
bash process (so a block may use what an earlier one set: $B, $A, ids), in a scratch directory.
Blocks fenced otherwise (```shell, ```text, ```json, ...) are shown, not run.

A step fails when a command fails (``set -e -o pipefail``). ``curl`` runs with ``--fail-with-body``:
an HTTP status of 400 or more fails the step, unless the example prints the status itself
(``-w``/``--write-out``), which is how a guide shows an error answer on purpose. The guides write
http://127.0.0.1:8000 (the address of ``make run``); ``--base-url`` replaces it.

The examples need a freshly loaded demo database (``manage.py load_demo``); most can run again,
some (a workflow that completes an order) create what they use. Exit status: 0 when every guide
passed, 1 otherwise. Only the Python standard library, bash, curl and python3 are needed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DOCUMENTED_BASE = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\S*)\s*$")

PRELUDE = r"""
set -e -o pipefail
__ledgerdoc_failed() {
  echo "EXAMPLE FAILED (exit $1) at script line $2: $3" >&2
}
trap '__ledgerdoc_failed $? $LINENO "$BASH_COMMAND"' ERR
curl() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      -w|--write-out|-f|--fail|--fail-with-body) command curl --show-error "$@" || return $?; return 0;;
    esac
  done
  command curl --show-error --fail-with-body "$@" || return $?
}
"""


@dataclass
class Block:
    line: int  # 1-based line of the first command in the guide
    text: str


def blocks_of(path: Path) -> list[Block]:
    """The ```sh blocks of a guide, each with the line it starts on."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    inside, lang, start, body = False, "", 0, []
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line.strip())
        if not inside and match:
            inside, lang, start, body = True, match.group(1), number + 1, []
        elif inside and line.strip() == "```":
            if lang == "sh":
                found.append(Block(start, "\n".join(body)))
            inside = False
        elif inside:
            body.append(line)
    return found


def script_of(blocks: list[Block], base_url: str) -> tuple[str, list[tuple[int, int]]]:
    """One bash script for a guide, and (script line, guide line) marks to map errors back."""
    parts = [PRELUDE]
    marks: list[tuple[int, int]] = []
    line = PRELUDE.count("\n") + 1
    for block in blocks:
        text = block.text.replace(DOCUMENTED_BASE, base_url.rstrip("/"))
        marks.append((line, block.line))
        parts.append(text + "\n")
        line += text.count("\n") + 1
    return "".join(parts), marks


def guide_line(marks: list[tuple[int, int]], script_line: int) -> int:
    best = 0
    for start, doc_line in marks:
        if start <= script_line:
            best = doc_line + (script_line - start)
    return best


def run_guide(path: Path, base_url: str, timeout: float, verbose: bool) -> bool:
    blocks = blocks_of(path)
    if not blocks:
        return True
    script, marks = script_of(blocks, base_url)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ledgerdoc-docs-") as scratch:
        try:
            done = subprocess.run(
                ["bash", "-c", script], cwd=scratch, capture_output=True, text=True,
                timeout=timeout, env={**os.environ, "LC_ALL": "C.UTF-8"},
            )
        except subprocess.TimeoutExpired:
            print(f"FAIL {path.name}: timed out after {timeout:.0f} s")
            return False
    seconds = time.monotonic() - started
    if done.returncode == 0:
        print(f"ok   {path.name}: {len(blocks)} blocks in {seconds:.1f} s")
        if verbose:
            print(done.stdout)
        return True
    where = ""
    match = re.search(r"at script line (\d+)", done.stderr)
    if match:
        where = f" (at {path.name}:{guide_line(marks, int(match.group(1)))})"
    print(f"FAIL {path.name}{where}, exit {done.returncode}")
    print("--- stdout (last 40 lines)")
    print("\n".join(done.stdout.splitlines()[-40:]))
    print("--- stderr (last 40 lines)")
    print("\n".join(done.stderr.splitlines()[-40:]))
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("guides", nargs="*", type=Path, help="guides to check (default: docs/*.md)")
    parser.add_argument("--base-url", default=os.environ.get("LEDGERDOC_URL", DOCUMENTED_BASE))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per guide")
    parser.add_argument("-v", "--verbose", action="store_true", help="print what passing guides printed")
    args = parser.parse_args(argv)
    guides = args.guides or sorted(DOCS.glob("*.md"))
    results = [run_guide(path, args.base_url, args.timeout, args.verbose) for path in guides]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
