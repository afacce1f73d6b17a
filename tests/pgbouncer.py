"""A PgBouncer of the tests' own, in transaction mode, in front of the PostgreSQL they run on.

Used by ``tests/e2e/test_pgbouncer.py`` (started per test) and by ``.ci/run`` (one for the run's
second pass of the e2e tests: ``python -m tests.pgbouncer DIR PORT`` writes the configuration and
becomes the pgbouncer process, so the script's ``$!`` is PgBouncer's own pid).

Every database name is passed through to the server (``* =``), so a deployment's fresh database
is reachable without editing the configuration; clients are trusted (loopback only). PgBouncer
refuses to run as root: then it drops to ``postgres`` (``-u``), and its directory is made readable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BINARY = "pgbouncer"


def available() -> bool:
    return shutil.which(BINARY) is not None


def write_config(directory: Path, port: int, server_host: str = "127.0.0.1",
                 server_port: int = 5432, user: str = "postgres") -> Path:
    """pgbouncer.ini and its user list in ``directory``: pool_mode transaction on 127.0.0.1:port."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={server_host} port={server_port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {directory / 'userlist.txt'}\n"
        f"admin_users = {user}\n"
        "pool_mode = transaction\n"
        # What production runs with (README "Connections and PgBouncer"): a reset is only
        # needed in session mode, and it must not hide a session state left by the service.
        "server_reset_query =\n"
        "max_client_conn = 500\n"
        "default_pool_size = 20\n"
        "ignore_startup_parameters = extra_float_digits\n"
        "log_connections = 0\n"
        "log_disconnections = 0\n"
    )
    if os.geteuid() == 0:  # pgbouncer -u postgres must read them
        directory.chmod(0o755)
        for path in directory.iterdir():
            path.chmod(0o644)
    return ini


def command(ini: Path) -> list[str]:
    args = [BINARY]
    if os.geteuid() == 0:
        args += ["-u", "postgres"]
    return [*args, str(ini)]


def admin(port: int, statement: str, user: str = "postgres") -> list[dict[str, Any]]:
    """Rows of an admin console command (``SHOW POOLS``, ``SHOW SERVERS``...), by column name.
    The console speaks the simple query protocol only: psql, not a driver."""
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "pgbouncer", "-X", "-A",
         "-F", "\t", "-P", "footer=off", "-c", statement],
        capture_output=True, text=True, timeout=30, check=True,
    )
    lines = done.stdout.splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:]]


class PgBouncer:
    """One pgbouncer process (``start``/``stop``); ``url`` is its base URL without a database."""

    def __init__(self, directory: Path, port: int, server_port: int = 5432) -> None:
        self.directory, self.port, self.server_port = directory, port, server_port
        self.process: subprocess.Popen | None = None
        self.log = directory / "pgbouncer.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> PgBouncer:
        ini = write_config(self.directory, self.port, server_port=self.server_port)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command(ini), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(subprocess.SubprocessError):
                self.admin("SHOW VERSION")
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pgbouncer did not answer on {self.port}: {self.log.read_text()[-2000:]}")

    def admin(self, statement: str) -> list[dict[str, Any]]:
        return admin(self.port, statement)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # SIGINT: at once, without waiting for clients
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def main(argv: list[str]) -> None:
    """``python -m tests.pgbouncer DIR PORT``: write the configuration, then exec pgbouncer."""
    directory, port = Path(argv[0]), int(argv[1])
    args = command(write_config(directory, port))
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv[1:])
