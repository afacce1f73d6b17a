"""Workflow ids in URLs and bodies: ASCII digits only, a 400 problem otherwise (never a 500)."""

from __future__ import annotations

import pytest

from apps.workflow.models import WFActivity
from tests.problems import UNICODE_DIGITS, bad_request

BAD = UNICODE_DIGITS


@pytest.mark.parametrize("action", ["approve", "reject", "acknowledge", "forward", "setuserchoice"])
@pytest.mark.parametrize("bad", BAD)
def test_activity_ids(garden_admin, approval_activity, action, bad):
    body = {"userTo": "GardenUser", "value": "3"}
    bad_request(garden_admin.put(f"/api/v1/workflow/{action}/{bad}", body, format="json"))
    approval_activity.refresh_from_db()
    assert not approval_activity.processed


@pytest.mark.parametrize("bad", BAD)
def test_user_ids(garden_admin, demo, bad):
    bad_request(garden_admin.get(f"/api/v1/workflow/{bad}"))


@pytest.mark.parametrize("bad", [*BAD, "١٢", "１２"])
def test_forward_to_a_user_id_in_other_digits(garden_admin, approval_activity, bad):
    response = garden_admin.put(f"/api/v1/workflow/forward/{approval_activity.pk}",
                                {"userTo": bad}, format="json")
    bad_request(response)
    assert WFActivity.objects.get(pk=approval_activity.pk).responsible_id == approval_activity.responsible_id
