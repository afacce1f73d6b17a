"""Jobs (POST /processes/jobs/{slug}, GET /processes/jobs/{id}) and report files (GET /files/{id}):
scoped to tenant and requester, expiring, streamed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import Conflict
from apps.processes.models import PInstance, Process, ProcessAccess, ReportFile
from apps.processes.registry import ProcessOutcome, register_process_handler
from tests.accounts.helpers import bearer_client
from tests.processes.conftest import pdf_text

pytestmark = pytest.mark.django_db

MARCH = {"DateOrdered": "2026-03-01", "DateOrdered_to": "2026-03-31"}


def _refused(ctx, params):
    raise Conflict("Nothing to do for these orders.")


def _crash(ctx, params):
    raise RuntimeError("boom")


def _done(ctx, params):
    return ProcessOutcome(summary="done", logs=["one", "two"])


register_process_handler("test_refused", _refused)
register_process_handler("test_crash", _crash)
register_process_handler("test_done", _done)


@pytest.fixture
def report_run(garden_admin):
    response = garden_admin.post("/api/v1/processes/order-detail", MARCH, format="json")
    assert response.status_code == 200
    return response.json()


def _process(garden, value, handler):
    return Process.objects.create(client=garden, value=value, name=value, handler=handler)


def test_file_is_streamed_with_etag_and_range(garden_admin, report_run):
    url = f"/api/v1/files/{report_run['reportFile']}"
    response = garden_admin.get(url)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert report_run["reportFileName"] in response["Content-Disposition"]
    whole = b"".join(response.streaming_content)
    part = garden_admin.get(url, HTTP_RANGE="bytes=0-7")
    assert part.status_code == 206 and b"".join(part.streaming_content) == whole[:8]
    again = garden_admin.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_file_of_another_tenant_or_requester_is_404(garden_admin, garden_user, acme_admin, report_run):
    url = f"/api/v1/files/{report_run['reportFile']}"
    for other in (acme_admin, garden_user):
        response = other.get(url)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/problem+json")
    assert garden_admin.get(url).status_code == 200


def test_same_user_in_another_session_reads_own_file(report_run):
    again = bearer_client("GardenAdmin")
    assert again.get(f"/api/v1/files/{report_run['reportFile']}").status_code == 200


def test_expired_file_is_410_then_purged(garden_admin, report_run):
    url = f"/api/v1/files/{report_run['reportFile']}"
    ReportFile.objects.filter(uid=report_run["reportFile"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = garden_admin.get(url)
    assert response.status_code == 410 and response.json()["status"] == 410
    from apps.processes.tasks import purge_report_files

    assert purge_report_files() == 1
    assert garden_admin.get(url).status_code == 404


def test_bad_file_ids(garden_admin):
    for ident in ("1", "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = garden_admin.get(f"/api/v1/files/{ident}")
        assert response.status_code == 404, ident
    # A NUL in the path is refused before any lookup (apps.core.middleware).
    assert garden_admin.get("/api/v1/files/%00").status_code == 400


def test_job_runs_in_celery_and_reports_its_file(garden_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = garden_admin.post(
            "/api/v1/processes/jobs/order-detail", {**MARCH, "report-type": "PDF"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert len(callbacks) == 1
    job = response.json()
    assert job["process"] == "order-detail" and job["user"] == "GardenAdmin"
    assert job["client"] == "GardenWorld"
    assert response["Location"] == f"/api/v1/processes/jobs/{job['id']}"
    status = garden_admin.get(f"/api/v1/processes/jobs/{job['id']}")
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "completed" and body["processing"] is False and body["errors"] == []
    result = body["result"]
    assert result["isError"] is False and result["AD_PInstance_ID"] == job["id"]
    content = b"".join(garden_admin.get(f"/api/v1/files/{result['reportFile']}").streaming_content)
    assert "18,187.50" in pdf_text(content)


def test_job_pending_until_the_worker_runs_it(garden_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = garden_admin.post("/api/v1/processes/jobs/open-items", {}, format="json")
    job = response.json()
    assert job["status"] == "queued" and job["processing"] is True and "result" not in job
    pending = garden_admin.get("/api/v1/processes/jobs").json()
    assert [j["id"] for j in pending] == [job["id"]]
    for callback in callbacks:
        callback()
    assert garden_admin.get("/api/v1/processes/jobs").json() == []
    done = garden_admin.get(f"/api/v1/processes/jobs/{job['id']}").json()
    assert done["status"] == "completed" and done["result"]["reportFile"]
    # The task redelivered (acks_late) finds the run done and changes nothing.
    from apps.processes.tasks import process_job_run

    process_job_run(job["id"])
    assert PInstance.objects.get(pk=job["id"]).attempts == 1


def test_job_of_another_tenant_or_requester_is_404(
    garden_admin, garden_user, acme_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = garden_admin.post("/api/v1/processes/jobs/order-detail", MARCH, format="json").json()
    url = f"/api/v1/processes/jobs/{job['id']}"
    assert acme_admin.get(url).status_code == 404
    assert garden_user.get(url).status_code == 404
    assert acme_admin.get("/api/v1/processes/jobs").json() == []
    assert garden_admin.get("/api/v1/processes/jobs/999999999").status_code == 404


def test_job_with_bad_parameters_is_400_and_not_queued(garden_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = garden_admin.post(
            "/api/v1/processes/jobs/order-detail", {"DateOrdered": "2026-99-01"}, format="json"
        )
    assert response.status_code == 400 and not callbacks
    assert not PInstance.objects.exists()


def test_refused_and_crashing_processes_end_failed(garden, garden_admin, django_capture_on_commit_callbacks):
    _process(garden, "Test_Refused", "test_refused")
    _process(garden, "Test_Crash", "test_crash")
    refused = garden_admin.post("/api/v1/processes/test-refused", {}, format="json")
    assert refused.status_code == 200
    assert refused.json()["isError"] is True
    assert refused.json()["summary"] == "Nothing to do for these orders."
    with django_capture_on_commit_callbacks(execute=True):
        job = garden_admin.post("/api/v1/processes/jobs/test-crash", {}, format="json").json()
    body = garden_admin.get(f"/api/v1/processes/jobs/{job['id']}").json()
    assert body["status"] == "failed" and body["result"]["isError"] is True
    assert body["errors"] and "boom" not in str(body)  # no internals leak
    assert "reportFile" not in body["result"]


def test_process_without_report_answers_logs(garden, garden_admin):
    _process(garden, "Test_Done", "test_done")
    body = garden_admin.post("/api/v1/processes/test-done", {"report-type": "XLS"}, format="json").json()
    assert body == {"AD_PInstance_ID": body["AD_PInstance_ID"], "process": "test-done",
                    "summary": "done", "isError": False, "logs": ["one", "two"]}


def test_client_process_is_not_offered_to_another_client(garden, acme_admin, garden_user):
    _process(garden, "Test_Done", "test_done")
    assert acme_admin.get("/api/v1/processes/test-done").status_code == 404
    slugs = [p["slug"] for p in acme_admin.get("/api/v1/processes").json()]
    assert "test-done" not in slugs and "order-detail" in slugs
    # GardenWorld User has no access row for it.
    assert garden_user.get("/api/v1/processes/test-done").status_code == 403
    assert not ProcessAccess.objects.filter(process__value="Test_Done").exists()


def test_job_routes_never_cross(garden_admin):
    assert garden_admin.get("/api/v1/processes/jobs/order-detail").status_code == 404
    assert garden_admin.post("/api/v1/processes/jobs/12", {}, format="json").status_code == 404
    for url in ("/api/v1/processes/order-detail", "/api/v1/processes/jobs/order-detail"):
        response = garden_admin.post(url, b"null", content_type="application/json")
        assert response.status_code == 400, url


def test_sweep_requeues_lost_jobs_and_fails_dead_ones(garden_admin, django_capture_on_commit_callbacks):
    from apps.processes.tasks import requeue_stale_jobs

    with django_capture_on_commit_callbacks(execute=False):  # the message is lost
        lost = garden_admin.post("/api/v1/processes/jobs/open-items", {}, format="json").json()
    with django_capture_on_commit_callbacks(execute=False):
        dead = garden_admin.post("/api/v1/processes/jobs/open-items", {}, format="json").json()
    long_ago = timezone.now() - timedelta(hours=2)
    PInstance.objects.filter(pk=lost["id"]).update(created=long_ago)
    PInstance.objects.filter(pk=dead["id"]).update(state="running", started_at=long_ago)
    assert requeue_stale_jobs() == {"requeued": 1, "failed": 1}
    assert garden_admin.get(f"/api/v1/processes/jobs/{lost['id']}").json()["status"] == "completed"
    body = garden_admin.get(f"/api/v1/processes/jobs/{dead['id']}").json()
    assert body["status"] == "failed" and body["result"]["isError"] is True
