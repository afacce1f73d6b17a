"""Staff define workflows in the Django admin; the API is in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client as DjangoClient

from apps.workflow.models import WFActivity, WFNode, WFProcess, Workflow


@pytest.fixture
def staff(demo) -> DjangoClient:
    from apps.accounts.models import User

    client = DjangoClient()
    client.force_login(User.objects.get(username="admin"))
    return client


MODELS = ("workflow", "wfnode", "wfnodetransition", "wfprocess", "wfactivity", "wfeventaudit")


@pytest.mark.parametrize("model", MODELS)
def test_admin_changelists_with_search_and_filters(staff, approval_activity, model):
    base = f"/admin/workflow/{model}/"
    assert staff.get(base).status_code == 200
    assert staff.get(base, {"q": "order"}).status_code == 200
    assert staff.get(base, {"client__id__exact": approval_activity.client_id}).status_code in (
        200, 302
    )


def test_admin_change_pages(staff, approval_activity):
    workflow = Workflow.objects.get(pk=approval_activity.workflow_id)
    node = WFNode.objects.get(pk=approval_activity.node_id)
    for url in (
        f"/admin/workflow/workflow/{workflow.pk}/change/",
        "/admin/workflow/workflow/add/",
        f"/admin/workflow/wfnode/{node.pk}/change/",
        f"/admin/workflow/wfprocess/{approval_activity.process_id}/change/",
        f"/admin/workflow/wfactivity/{approval_activity.pk}/change/",
    ):
        response = staff.get(url)
        assert response.status_code == 200, url
    content = staff.get(f"/admin/workflow/workflow/{workflow.pk}/change/").content.decode()
    assert "Set order priority" in content  # nodes inline
    content = staff.get(f"/admin/workflow/wfnode/{node.pk}/change/").content.decode()
    assert "IsApproved eq true" in content  # transitions inline


def test_admin_defines_a_workflow(staff, demo):
    from apps.accounts.models import Client

    garden = Client.objects.get(value="GardenWorld")
    response = staff.post("/admin/workflow/workflow/add/", {
        "client": garden.pk, "org": 0, "value": "Custom", "name": "Custom", "table_name": "C_Order",
        "priority": 5, "is_active": "on", "description": "", "help": "",
        "nodes-TOTAL_FORMS": 1, "nodes-INITIAL_FORMS": 0,
        "nodes-0-seq_no": 10, "nodes-0-value": "N", "nodes-0-name": "Notice",
        "nodes-0-action": "NT", "nodes-0-responsible_type": "I", "nodes-0-client": garden.pk,
        "nodes-0-org": 0, "nodes-0-is_active": "on", "nodes-0-message": "hello",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    custom = Workflow.objects.get(value="Custom")
    assert custom.nodes.get().name == "Notice"
    assert WFProcess.objects.count() == 0 and WFActivity.objects.count() == 0


def test_openapi_schema_has_the_workflow_api(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/workflow:", "/api/v1/workflow/{user_id}:",
                 "/api/v1/workflow/approve/{node_id}:", "/api/v1/workflow/reject/{node_id}:",
                 "/api/v1/workflow/forward/{node_id}:", "/api/v1/workflow/acknowledge/{node_id}:",
                 "/api/v1/workflow/setuserchoice/{node_id}:"):
        assert path in text
    assert "history-records" in text
