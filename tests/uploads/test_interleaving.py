"""The randomized interleaving of upload writers of every dialect (issue 23), with a fixed seed.

:mod:`tests.uploads.interleaving` drives writers of every dialect against shared upload sessions
on a live stack (stalls, aborts, rivals, duplicate chunks, the wrong shape, the other tenant,
cancels, purge; worker kills on PostgreSQL with a real worker) and checks after every step that
finished bytes never change, nothing is shared across tenants and nothing stays PROCESSING; at the
end ``scrub_files`` passes. ``make test-interleaving`` runs it longer with a random seed.
"""

from __future__ import annotations

import pytest

from tests.uploads import interleaving

pytestmark = pytest.mark.e2e

SEED = 2323
DURATION = 80.0  # seconds of steps; with the stack's start and the final checks about 2.5 min


def test_interleaved_writers_of_every_dialect_keep_finished_bytes(tmp_path):
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    violations = interleaving.run(base_dir=tmp_path, seed=SEED, duration=DURATION,
                                  steps=100_000, log=log)
    assert not violations, (
        f"{len(violations)} violation(s) with seed {SEED} "
        f"(replay: make test-interleaving SEED={SEED} DURATION={DURATION:.0f}):\n"
        + "\n".join(violations) + "\n--- last steps:\n" + "\n".join(lines[-40:]))
