"""Whole flows over real HTTP (``live_server``) and, when configured, the real services.

With ``CELERY_BROKER_URL`` set and a PostgreSQL test database (``.ci/run``), Celery tasks are sent to
the real worker that CI starts on ``test_<name>``: the ``celery_mode`` fixture turns eager mode off
for the test and records every task the test process publishes (eager calls publish nothing). On
SQLite, or without a broker, the worker could not see the test database, so tasks run eagerly; the
assertions are the same.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def real_worker_configured() -> bool:
    from django.db import connection

    return bool(os.environ.get("CELERY_BROKER_URL")) and connection.vendor == "postgresql"


@dataclass
class CeleryMode:
    real: bool
    published: list[tuple[str, str]] = field(default_factory=list)  # (task name, task id)
    worker: str = ""

    def names(self) -> set[str]:
        return {name for name, _ in self.published}


def _worker_on_queue(app: Any, queue: str, timeout: float = 10.0) -> str:
    """The host name of a worker consuming ``queue``, for the record. Not an assertion: workers of
    parallel CI runs may share a host name (replies are keyed by it); the tests' bounded polls fail
    anyway if no worker runs the tasks, since eager mode is off."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = app.control.inspect(timeout=1.0).active_queues() or {}
        for host, queues in answers.items():
            if any(q.get("name") == queue for q in queues):
                return host
        time.sleep(0.5)
    return f"(no inspect reply for {queue})"


@pytest.fixture
def celery_mode(transactional_db):
    """Real worker when configured (eager off, restored after), eager otherwise."""
    from celery.signals import before_task_publish
    from django.conf import settings

    from config.celery import app

    mode = CeleryMode(real=real_worker_configured())

    def record(sender: str | None = None, headers: dict | None = None, **_: Any) -> None:
        mode.published.append((sender or "", (headers or {}).get("id", "")))

    before_task_publish.connect(record, weak=False)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = not mode.real
    try:
        if mode.real:
            mode.worker = _worker_on_queue(app, settings.CELERY_TASK_DEFAULT_QUEUE)
        yield mode
    finally:
        app.conf.task_always_eager = previous
        before_task_publish.disconnect(record)
    if mode.real:
        print(f"\n[e2e] worker {mode.worker} ran: " + ", ".join(f"{n}[{i}]" for n, i in mode.published))


def wait_for(check: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Api:
    """A logged-in HTTP client of the live server."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method: str) -> Callable[..., requests.Response]:
        if method not in {"get", "post", "put", "delete", "patch", "head"}:
            raise AttributeError(method)

        def call(path: str, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", 60)
            return self.session.request(method.upper(), self.base + path, **kwargs)

        return call


def login_two_step(base: str, name: str) -> Api:
    """DESIGN §4: POST user/password → first token and clients; pick role, org, warehouse; PUT."""
    step1 = requests.post(f"{base}/api/v1/auth/tokens",
                          json={"userName": name, "password": name}, timeout=30)
    assert step1.status_code == 200, step1.text
    first = step1.json()
    [client] = first["clients"]
    auth = {"Authorization": f"Bearer {first['token']}"}
    roles = requests.get(f"{base}/api/v1/auth/roles", params={"client": client["id"]},
                         headers=auth, timeout=30)
    assert roles.status_code == 200, roles.text
    role = roles.json()["roles"][0]
    orgs = requests.get(f"{base}/api/v1/auth/organizations",
                        params={"client": client["id"], "role": role["id"]}, headers=auth, timeout=30)
    assert orgs.status_code == 200, orgs.text
    org = next(o for o in orgs.json()["organizations"] if o["name"] == "HQ")
    warehouses = requests.get(
        f"{base}/api/v1/auth/warehouses",
        params={"client": client["id"], "role": role["id"], "organization": org["id"]},
        headers=auth, timeout=30,
    )
    assert warehouses.status_code == 200, warehouses.text
    body = {"clientId": client["id"], "roleId": role["id"], "organizationId": org["id"],
            "language": "en_US"}
    if warehouses.json()["warehouses"]:
        body["warehouseId"] = warehouses.json()["warehouses"][0]["id"]
    step2 = requests.put(f"{base}/api/v1/auth/tokens", json=body, headers=auth, timeout=30)
    assert step2.status_code == 200, step2.text
    answer = step2.json()
    assert answer["clientId"] == client["id"] and answer["token"] and answer["refresh_token"]
    api = Api(base, answer["token"])
    api.ids = answer
    return api
