"""Two simultaneous approvals of one activity: exactly one 200 and one 409.

On PostgreSQL, threads send both PUTs at once to a live server (real HTTP, one transaction per
request): the second waits on the activity's row lock, then finds it done. SQLite's in-memory test
database (shared cache) answers "table is locked" instead of waiting, so there the race is replayed
deterministically: the second request is made to see the activity as it was *before* the first
one committed (a stale read, the worst interleaving), and the conditional claim
(``UPDATE ... WHERE WFState='OS'``) must still refuse it with 409 and change nothing.
"""

from __future__ import annotations

import threading

import pytest
import requests
from django.db import connection

from apps.erp.models import Order
from apps.workflow import services
from apps.workflow.models import EventType, WFActivity, WFEventAudit, WFState

ATTEMPTS = 2


def _race(url: str, token: str, bodies: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = [0] * len(bodies)

    def put(index: int) -> None:
        barrier.wait(timeout=10)
        response = requests.put(
            url, json=bodies[index], headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        statuses[index] = response.status_code

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_two_simultaneous_approvals(live_server, garden_admin, approval_activity):
    url = f"{live_server.url}/api/v1/workflow/approve/{approval_activity.pk}"
    statuses = _race(url, garden_admin.tokens["token"],
                     [{"message": f"approval {i}"} for i in range(ATTEMPTS)])
    assert sorted(statuses) == [200, 409], statuses

    approval_activity.refresh_from_db()
    assert approval_activity.state == WFState.COMPLETED
    approved = WFEventAudit.objects.filter(activity=approval_activity, event_type=EventType.APPROVED)
    assert approved.count() == 1
    # one (not two) priority choice follows
    assert WFActivity.objects.filter(process=approval_activity.process).count() == 2
    assert Order.objects.get(pk=approval_activity.record_id).doc_status == "CO"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_simultaneous_approve_and_reject(live_server, garden_admin, approval_activity):
    token = garden_admin.tokens["token"]
    base = f"{live_server.url}/api/v1/workflow"
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def put(action: str) -> None:
        barrier.wait(timeout=10)
        response = requests.put(f"{base}/{action}/{approval_activity.pk}", json={},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        statuses[action] = response.status_code

    threads = [threading.Thread(target=put, args=(a,)) for a in ("approve", "reject")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses.values()) == [200, 409], statuses
    order = Order.objects.get(pk=approval_activity.record_id)
    expected = "CO" if statuses["approve"] == 200 else "NA"
    assert order.doc_status == expected
    decisions = WFEventAudit.objects.filter(
        activity=approval_activity, event_type__in=[EventType.APPROVED, EventType.REJECTED]
    )
    assert decisions.count() == 1


def _stale_lock(monkeypatch, activity: WFActivity) -> None:
    """Make the locking read return ``activity`` as loaded now (before the first action)."""
    stale = services._lock_activity(activity.pk)
    monkeypatch.setattr(services, "_lock_activity", lambda pk: stale if pk == stale.pk else None)


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_stale_read_second_approval_gets_409(monkeypatch, garden_admin, approval_activity, second):
    _stale_lock(monkeypatch, approval_activity)
    first = garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", {},
                             format="json")
    assert first.status_code == 200, first.content
    response = garden_admin.put(f"/api/v1/workflow/{second}/{approval_activity.pk}", {},
                                format="json")
    assert response.status_code == 409, response.content

    assert Order.objects.get(pk=approval_activity.record_id).doc_status == "CO"
    decisions = WFEventAudit.objects.filter(
        activity=approval_activity, event_type__in=[EventType.APPROVED, EventType.REJECTED]
    )
    assert decisions.count() == 1
    assert WFActivity.objects.filter(process=approval_activity.process).count() == 2


def test_stale_read_forward_after_approval_gets_409(monkeypatch, garden_admin, approval_activity):
    _stale_lock(monkeypatch, approval_activity)
    assert garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", {},
                            format="json").status_code == 200
    response = garden_admin.put(f"/api/v1/workflow/forward/{approval_activity.pk}",
                                {"userTo": "GardenUser"}, format="json")
    assert response.status_code == 409
    approval_activity.refresh_from_db()
    assert approval_activity.responsible.username == "GardenAdmin"
    assert approval_activity.state == WFState.COMPLETED
