"""``python -m benchmarks.records``: records API vs. a plain DRF ModelViewSet on 100k partners.

Creates (once) 100k business partners in PostgreSQL (``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/ledgerdoc_bench), starts one gunicorn serving both endpoints with
persistent DB connections, drives each with the same bounded loopback load (threads, bounded by
request count and time), and prints requests/s, their ratio (target ≥ 0.7) and queries per request.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "600"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ledgerdoc_bench"
ROOT = Path(__file__).resolve().parents[2]
OURS = (
    "/api/v1/models/c_bpartner?$filter=IsCustomer eq true and startswith(Name,'Partner 0')"
    "&$select=Value,Name,IsCustomer,C_BP_Group_ID&$expand=C_BP_Group_ID&$top=20"
)
BASELINE = "/baseline/bpartners?page=1"


def _ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _prepare() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)
    from importlib import import_module

    for app in ("apps.accounts", "apps.records", "apps.erp"):
        import_module(f"{app}.demo").load(lambda *_: None)
    from apps.accounts.models import Client
    from apps.erp.models import BPartner, BPGroup

    garden = Client.objects.get(name="GardenWorld")
    have = BPartner.objects.filter(client=garden, value__startswith="BENCH").count()
    groups = list(BPGroup.objects.filter(client=garden))
    batch = []
    for i in range(have, ROWS):
        batch.append(
            BPartner(
                client=garden, org_id=0, value=f"BENCH{i:06d}", name=f"Partner {i:06d}",
                is_customer=i % 2 == 0, bp_group=groups[i % len(groups)],
            )
        )
        if len(batch) == 5000:
            BPartner.objects.bulk_create(batch)
            batch = []
    if batch:
        BPartner.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "C_BPartner"')
    print(f"rows: {BPartner.objects.filter(client=garden).count()} GardenWorld business partners")


def _query_counts() -> dict[str, list[int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {}}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    counts: dict[str, list[int]] = {"ours": [], "baseline": []}
    for top in (1, 20, 100):
        client.get(OURS.replace("$top=20", f"$top={top}"))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(OURS.replace("$top=20", f"$top={top}")).status_code == 200
        counts["ours"].append(len(captured))
    client.get(BASELINE)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(BASELINE).status_code == 200
    counts["baseline"].append(len(captured))
    return counts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load(base: str, path: str, token: str, auth: str = "") -> tuple[float, int, int]:
    """Bounded closed-loop load: THREADS threads until REQUESTS done or SECONDS passed.

    ``auth``: an Authorization header to send instead of the bearer token (HTTP Basic)."""
    lock = threading.Lock()
    state = {"sent": 0, "ok": 0, "errors": 0}
    deadline = time.monotonic() + SECONDS

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = auth or f"Bearer {token}"
        while time.monotonic() < deadline:
            with lock:
                if state["sent"] >= REQUESTS:
                    return
                state["sent"] += 1
            response = session.get(base + path, timeout=30)
            with lock:
                state["ok" if response.status_code == 200 else "errors"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return state["ok"] / elapsed, state["ok"], state["errors"]


def main() -> int:
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.records.settings"
    os.environ.setdefault("CONN_MAX_AGE", "600")
    sys.path.insert(0, str(ROOT))
    if url.startswith("postgres"):
        _ensure_database(url)
    _prepare()
    counts = _query_counts()
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--log-level", "warning",
        ],
        cwd=ROOT,
        env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(base + "/api/v1/models", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        token = requests.post(
            base + "/api/v1/auth/tokens",
            json={"userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {}},
            timeout=10,
        ).json()["token"]
        for path in (OURS, BASELINE):  # warm every worker's connection and caches
            check = requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert check.status_code == 200, check.text[:500]
            for _ in range(WORKERS * 4):
                requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        rates: dict[str, list[float]] = {"ours": [], "baseline": []}
        for _round in range(2):  # interleaved rounds, same run
            for name, path in (("baseline", BASELINE), ("ours", OURS)):
                rate, ok, errors = _load(base, path, token)
                rates[name].append(rate)
                print(f"  {name:8s} {rate:8.1f} req/s ({ok} ok, {errors} errors)")
        # HTTP Basic (the Nuxeo client's default): the password is checked once, then remembered
        # briefly under a keyed hash (AUTH_BASIC_MEMO_SECONDS); the same request, both ways.
        basic = "Basic " + base64.b64encode(b"GardenAdmin:GardenAdmin").decode()
        requests.get(base + OURS, headers={"Authorization": basic}, timeout=30)
        for _round in range(2):
            for name, auth in (("bearer", ""), ("basic", basic)):
                rate, ok, errors = _load(base, OURS, token, auth)
                rates.setdefault(name, []).append(rate)
                print(f"  {name:8s} {rate:8.1f} req/s ({ok} ok, {errors} errors)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ours, baseline = statistics.median(rates["ours"]), statistics.median(rates["baseline"])
    bearer, basic_rate = statistics.median(rates["bearer"]), statistics.median(rates["basic"])
    print(f"HTTP Basic   : {basic_rate:8.1f} req/s vs bearer {bearer:.1f}: a Basic request costs "
          f"{bearer / basic_rate:.2f}x a bearer one (target <= 1.5)")
    print(f"records API  : {ours:8.1f} req/s  GET {OURS}")
    print(f"DRF baseline : {baseline:8.1f} req/s  GET {BASELINE} (ModelViewSet + PageNumberPagination)")
    print(f"ratio        : {ours / baseline:.2f} (target >= 0.7)")
    print(
        f"SQL queries per request: records API {counts['ours']} for $top=1/20/100 "
        f"(constant: {len(set(counts['ours'])) == 1}); baseline {counts['baseline'][0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
