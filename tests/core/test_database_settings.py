"""PostgreSQL named part by part (DATABASE_HOST, DATABASE_PORT, DATABASE_NAME, DATABASE_USER,
DATABASE_PASSWORD, as compose.yaml passes them): a password with the characters that break a URL
reaches the driver unchanged; DATABASE_URL, when set, still wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p@ss:w/o#r%d?x=1&y $HOME"

_PROBE = """
import json
import django
django.setup()
from django.db import connection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
params = connection.get_connection_params()
for key in ("context", "cursor_factory", "client_encoding"): params.pop(key, None)
conninfo = conninfo_to_dict(make_conninfo(**{k: v for k, v in params.items() if isinstance(v, (str, int))}))
print(json.dumps({"engine": connection.settings_dict["ENGINE"], "conninfo": conninfo}))
"""


def _probe(tmp_path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    clean.pop("LOCK_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), **env},
    ).stdout
    return json.loads(out)


def test_a_password_of_url_breaking_characters_reaches_the_driver_unchanged(tmp_path):
    probe = _probe(tmp_path, DATABASE_HOST="db.internal", DATABASE_PORT="6432",
                   DATABASE_NAME="ledger", DATABASE_USER="svc", DATABASE_PASSWORD=PASSWORD)
    assert probe["engine"] == "apps.core.db.postgresql"
    assert probe["conninfo"] == {"host": "db.internal", "port": "6432", "dbname": "ledger",
                                 "user": "svc", "password": PASSWORD}


def test_the_parts_default_to_the_compose_names(tmp_path):
    probe = _probe(tmp_path, DATABASE_HOST="postgres", DATABASE_PASSWORD="$secret")
    assert probe["conninfo"] == {"host": "postgres", "port": "5432", "dbname": "ledgerdoc",
                                 "user": "ledgerdoc", "password": "$secret"}


def test_database_url_wins_over_the_parts(tmp_path):
    probe = _probe(tmp_path, DATABASE_URL="postgres://u:p%40w@h:5433/n", DATABASE_HOST="ignored")
    assert probe["conninfo"] == {"host": "h", "port": "5433", "dbname": "n", "user": "u",
                                 "password": "p@w"}


def test_without_either_the_embedded_sqlite_database(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)},
    ).stdout.split()
    assert out == ["django.db.backends.sqlite3", str(tmp_path / "db.sqlite3")]
