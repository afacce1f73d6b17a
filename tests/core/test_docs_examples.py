"""The API guides tell the truth: every ```sh example of docs/*.md runs against a live server.

One Ledgerdoc started as `make run` serves it (gunicorn with config/gunicorn.conf.py, demo data,
tests/live.py), and docs/check_examples.py runs each guide's examples in order against it, as a
reader would paste them (with the guide's http://127.0.0.1:8000 replaced by the server's address).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import LiveStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHECKER = DOCS / "check_examples.py"
GUIDES = sorted(DOCS.glob("*.md"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(tmp_path_factory.mktemp("docs"))
    try:
        yield live.start()
    finally:
        live.stop()


def check(url: str, *guides: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECKER), "--base-url", url, "--timeout", "90", *map(str, guides)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("guide", GUIDES, ids=[guide.name for guide in GUIDES])
def test_the_examples_of_a_guide_work(stack, guide):
    done = check(stack.urls[0], guide)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_checker_fails_on_an_error_answer(stack, tmp_path):
    guide = tmp_path / "broken.md"
    guide.write_text(
        "```sh\ncurl -s http://127.0.0.1:8000/api/v1/models\n```\n", encoding="utf-8"
    )
    done = check(stack.urls[0], guide)
    assert done.returncode == 1
    assert "FAIL broken.md (at broken.md:2)" in done.stdout


def test_the_readme_links_every_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared/" not in readme
    linked = set(re.findall(r"\]\((docs/[a-z_]+\.md)", readme))
    assert {f"docs/{guide.name}" for guide in GUIDES} <= linked
