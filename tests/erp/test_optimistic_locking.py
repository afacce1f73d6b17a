"""Optimistic locking of records: GET sends an ETag, PUT/DELETE with an older If-Match answer 412.

Without If-Match a change is made as before. In a batch each step may carry its own If-Match.
Two PUTs sent at once with the same If-Match: exactly one wins (PostgreSQL, real row locks).
"""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from apps.erp.models import BPartner, Order
from tests.accounts.helpers import bearer_client

BP_URL = "/api/v1/models/c_bpartner"


def _etag(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    return response["ETag"]


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and isinstance(body["detail"], str)
    return body


def test_get_sends_etag_and_put_with_it_succeeds(garden_user, joe):
    url = f"{BP_URL}/{joe.pk}"
    etag = _etag(garden_user, url)
    assert _etag(garden_user, url) == etag  # stable while the row does not change
    response = garden_user.put(url, {"Description": "first"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert response["ETag"] != etag
    assert response["ETag"] == _etag(garden_user, url)


def test_stale_if_match_is_412_and_row_unchanged(garden_user, joe):
    url = f"{BP_URL}/{joe.pk}"
    stale = _etag(garden_user, url)
    assert garden_user.put(url, {"Description": "someone else"}, format="json").status_code == 200
    body = _problem(garden_user.put(url, {"Description": "mine"}, format="json", HTTP_IF_MATCH=stale), 412)
    assert body["etag"] == _etag(garden_user, url)
    joe.refresh_from_db()
    assert joe.description == "someone else"
    # The same through the body's @odata.etag.
    _problem(garden_user.put(url, {"Description": "mine", "@odata.etag": stale}, format="json"), 412)
    joe.refresh_from_db()
    assert joe.description == "someone else"


def test_weak_if_match_never_matches(garden_user, joe, garden):
    """RFC 9110 §13.1.1: If-Match uses the strong comparison, so ``W/`` + the current tag is 412
    (PUT, DELETE and the body's @odata.etag alike) and the row stays as it was."""
    url = f"{BP_URL}/{joe.pk}"
    current = _etag(garden_user, url)
    _problem(garden_user.put(url, {"Description": "weak"}, format="json", HTTP_IF_MATCH=f"W/{current}"), 412)
    _problem(garden_user.put(url, {"Description": "weak", "@odata.etag": f"W/{current}"}, format="json"), 412)
    _problem(garden_user.delete(url, HTTP_IF_MATCH=f"W/{current}"), 412)
    joe.refresh_from_db()
    assert joe.description != "weak"
    assert _etag(garden_user, url) == current
    # A list naming the strong tag beside a weak one still matches.
    response = garden_user.put(url, {"Description": "strong"}, format="json",
                               HTTP_IF_MATCH=f'W/{current}, {current}')
    assert response.status_code == 200, response.content
    joe.refresh_from_db()
    assert joe.description == "strong"


def test_without_if_match_or_with_star_as_before(garden_user, joe):
    url = f"{BP_URL}/{joe.pk}"
    assert garden_user.put(url, {"Description": "a"}, format="json").status_code == 200
    assert garden_user.put(url, {"Description": "b"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    joe.refresh_from_db()
    assert joe.description == "b"


def test_delete_with_stale_if_match_is_412(garden_user, garden):
    created = garden_user.post(BP_URL, {"Name": "To delete"}, format="json")
    url = f"{BP_URL}/{created.json()['id']}"
    stale = created["ETag"]
    assert garden_user.put(url, {"Description": "changed"}, format="json").status_code == 200
    _problem(garden_user.delete(url, HTTP_IF_MATCH=stale), 412)
    assert BPartner.objects.filter(pk=created.json()["id"]).exists()
    fresh = _etag(garden_user, url)
    assert garden_user.delete(url, HTTP_IF_MATCH=fresh).status_code == 200
    assert not BPartner.objects.filter(pk=created.json()["id"]).exists()


@pytest.mark.parametrize("value", ["", " ", '""', "x" * 2000])
def test_malformed_if_match_is_400(garden_user, joe, value):
    response = garden_user.put(f"{BP_URL}/{joe.pk}", {"Description": "x"}, format="json", HTTP_IF_MATCH=value)
    _problem(response, 400)
    joe.refresh_from_db()
    assert joe.description != "x"


def test_other_tenant_gets_404_not_412(acme_admin, garden_user, joe):
    url = f"{BP_URL}/{joe.pk}"
    etag = _etag(garden_user, url)
    _problem(acme_admin.put(url, {"Description": "acme"}, format="json", HTTP_IF_MATCH=etag), 404)
    _problem(acme_admin.get(url), 404)
    joe.refresh_from_db()
    assert joe.description != "acme"


def test_a_new_line_changes_the_orders_etag(garden_user, small_order, products):
    url = f"/api/v1/models/c_order/{small_order.pk}"
    before = _etag(garden_user, url)
    added = garden_user.post(
        "/api/v1/models/c_orderline",
        {"C_Order_ID": small_order.pk, "M_Product_ID": products["Rose Bush"].pk},
        format="json",
    )
    assert added.status_code == 201, added.content
    _problem(garden_user.put(url, {"Description": "stale"}, format="json", HTTP_IF_MATCH=before), 412)


def test_batch_step_if_match(garden_user, joe):
    url = f"{BP_URL}/{joe.pk}"
    stale = _etag(garden_user, url)
    assert garden_user.put(url, {"Description": "moved on"}, format="json").status_code == 200
    fresh = _etag(garden_user, url)
    steps = [
        {"method": "PUT", "path": f"v1/models/c_bpartner/{joe.pk}", "body": {"Name2": "one"},
         "headers": {"If-Match": fresh}},
        {"method": "PUT", "path": f"v1/models/c_bpartner/{joe.pk}", "body": {"Name2": "two"},
         "@odata.etag": stale},
    ]
    body = _problem(garden_user.post("/api/v1/batch", steps, format="json"), 412)
    assert body["failedStep"] == 1
    # The first step's version was rolled back with it: not reported.
    assert [set(r) for r in body["results"]] == [{"status", "statusCode", "body"}] * 2
    joe.refresh_from_db()
    assert joe.name2 == ""  # all or nothing: the first step was rolled back too
    results = garden_user.post("/api/v1/batch?transaction=false", steps, format="json").json()
    assert [r["statusCode"] for r in results] == [200, 412]
    joe.refresh_from_db()
    assert joe.name2 == "one"
    chained = garden_user.put(url, {"Name2": "three"}, format="json", HTTP_IF_MATCH=_etag(garden_user, url))
    assert chained.status_code == 200, chained.content


@pytest.mark.parametrize("extra", [{"headers": ["If-Match"]}, {"headers": {"If-Match": 3}}, {"@odata.etag": ["x"]}])
def test_batch_step_bad_if_match_is_400(garden_user, joe, extra):
    steps = [{"method": "PUT", "path": f"models/c_bpartner/{joe.pk}", "body": {"Name2": "no"}, **extra}]
    _problem(garden_user.post("/api/v1/batch", steps, format="json"), 400)
    joe.refresh_from_db()
    assert joe.name2 == ""


def test_batch_step_other_headers_change_nothing(garden_user, joe):
    steps = [{"method": "PUT", "path": f"v1/models/c_bpartner/{joe.pk}", "body": {"Name2": "ok"},
              "headers": {"Content-Type": "application/json", "Accept": "application/json"}}]
    response = garden_user.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 200, response.content
    joe.refresh_from_db()
    assert joe.name2 == "ok"


def test_batch_step_results_carry_the_records_etag(garden_user, joe, garden):
    """A step that reads or writes one record reports its ETag (``headers.ETag``): the version
    after that step, good as the If-Match of a later call; lists and deletes report none."""
    url = f"{BP_URL}/{joe.pk}"
    before = _etag(garden_user, url)
    spare = BPartner.objects.create(client=garden, value="Spare", name="Spare", bp_group=joe.bp_group)
    steps = [
        {"method": "GET", "path": f"models/c_bpartner/{joe.pk}"},
        {"method": "PUT", "path": f"models/c_bpartner/{joe.pk}", "body": {"Name2": "batched"}},
        {"method": "POST", "path": "models/c_bpartner", "body": {"Name": "From a batch"}},
        {"method": "GET", "path": f"models/c_bpartner/{joe.pk}/Name2"},
        {"method": "GET", "path": "models/c_bpartner?$top=2"},
        {"method": "DELETE", "path": f"models/c_bpartner/{spare.pk}"},
    ]
    response = garden_user.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 200, response.content
    read, written, created, column, listed, deleted = response.json()
    after = _etag(garden_user, url)
    assert before != after
    assert read["headers"] == {"ETag": before}
    assert written["headers"] == column["headers"] == {"ETag": after}
    assert created["headers"] == {"ETag": _etag(garden_user, f"{BP_URL}/{created['body']['id']}")}
    assert "headers" not in listed and "headers" not in deleted
    _problem(garden_user.put(url, {"Name2": "stale"}, format="json", HTTP_IF_MATCH=read["headers"]["ETag"]), 412)
    fresh = garden_user.put(url, {"Name2": "chained"}, format="json", HTTP_IF_MATCH=written["headers"]["ETag"])
    assert fresh.status_code == 200, fresh.content


def _concurrent_puts(clients, url: str, etag: str, texts: list[str]) -> list[int]:
    """PUT each text from its own client and thread at the same moment, all with ``etag``."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def put(client, text: str) -> None:
        try:
            barrier.wait()
            response = client.put(url, {"Description": text}, format="json", HTTP_IF_MATCH=etag)
            with lock:
                statuses.append(response.status_code)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=put, args=pair) for pair in zip(clients, texts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return sorted(statuses)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_puts_with_the_same_if_match_one_wins(demo, garden):
    order = Order.objects.filter(client=garden).order_by("pk").first()
    url = f"/api/v1/models/c_order/{order.pk}"
    clients = [bearer_client("GardenUser"), bearer_client("GardenAdmin")]
    for round_no in range(5):
        texts = [f"round {round_no} by {index}" for index in range(len(clients))]
        statuses = _concurrent_puts(clients, url, _etag(clients[0], url), texts)
        assert statuses == [200, 412], statuses
        order.refresh_from_db()
        assert order.description in texts
