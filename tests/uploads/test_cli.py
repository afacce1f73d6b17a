"""The CLI uploader against a live server: parallel chunks, resume after an interruption."""

from __future__ import annotations

import pytest

from apps.uploads.models import UploadSession
from tests.uploads.conftest import payload, sha
from tools import upload as cli

pytestmark = pytest.mark.django_db(transaction=True)


def test_cli_uploads_and_resumes(live_server, demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "STATE_DIR", tmp_path / "state")
    data = payload(200_000, seed=5)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    # First run: the server "fails" chunk 3 for good → the run stops, the state file stays.
    real_call = cli.Client.call
    sent: list[str] = []

    def flaky(self, method, url, **kwargs):
        if method == "PUT":
            sent.append(url)
            if url.endswith("/chunks/3"):
                raise cli.UploadError("network down")
        return real_call(self, method, url, **kwargs)

    monkeypatch.setattr(cli.Client, "call", flaky)
    args = [str(path), "--server", live_server.url, "--user", "GardenUser", "--password",
            "GardenUser", "--chunk-size", "16K", "--parallel", "3", "--quiet"]
    assert cli.main(args) == 1
    monkeypatch.setattr(cli.Client, "call", real_call)
    assert list((tmp_path / "state").iterdir())
    session = UploadSession.objects.get()
    first_received = session.chunks.filter(received=True).count()
    assert 0 < first_received < 13

    # Second run resumes: same upload, only the missing chunks are sent, verified at the end.
    sent.clear()

    def counting(self, method, url, **kwargs):
        if method == "PUT":
            sent.append(url)
        return real_call(self, method, url, **kwargs)

    monkeypatch.setattr(cli.Client, "call", counting)
    assert cli.main(args) == 0
    assert len(sent) == 13 - first_received
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert sha(data) in out and str(session.uid) in out
    assert UploadSession.objects.count() == 1
    session.refresh_from_db()
    assert session.state == "COMPLETED" and session.stored_file.sha256 == sha(data)
    assert not list((tmp_path / "state").iterdir())
