"""Processes part of the demo: the Order Detail and Open Items reports (System processes, offered
to every client), and GardenWorld User's access (Order Detail only). Idempotent."""

from __future__ import annotations

from collections.abc import Callable

from apps.accounts.models import Role
from apps.core.models import ANY_ORG_ID, SYSTEM_CLIENT_ID
from apps.processes.models import Process, ProcessAccess, ProcessPara, Reference
from apps.processes.reports import OPEN_ITEMS, ORDER_DETAIL

SYSTEM = {"client_id": SYSTEM_CLIENT_ID, "org_id": ANY_ORG_ID}
# value: (name, handler, description, [(column, name, reference, ref table, mandatory, range, default)])
DEMO_PROCESSES = {
    "Order_Detail": (
        "Order Detail", ORDER_DETAIL,
        "Orders with their lines and totals for a date range and a business partner",
        [
            ("DateOrdered", "Date Ordered", Reference.DATE, "", False, True, ""),
            ("C_BPartner_ID", "Business Partner", Reference.SEARCH, "C_BPartner", False, False, ""),
            ("IsSOTrx", "Sales Transaction", Reference.YES_NO, "", False, False, ""),
        ],
    ),
    "Open_Items": (
        "Open Items", OPEN_ITEMS,
        "Open orders per business partner as of a date, with days and open amounts",
        [
            ("StatementDate", "Statement Date", Reference.DATE, "", True, False, "@#Date@"),
            ("C_BPartner_ID", "Business Partner", Reference.SEARCH, "C_BPartner", False, False, ""),
            ("IsSOTrx", "Sales Transaction", Reference.YES_NO, "", False, False, "Y"),
        ],
    ),
}
GARDEN_USER_PROCESSES = {"Order_Detail": True}


def load(log: Callable[[str], None]) -> None:
    processes = {}
    for value, (name, handler, description, parameters) in DEMO_PROCESSES.items():
        process, _ = Process.objects.update_or_create(
            client_id=SYSTEM_CLIENT_ID, value=value,
            defaults={"name": name, "handler": handler, "description": description, "is_report": True,
                      "org_id": ANY_ORG_ID},
        )
        processes[value] = process
        for seq, (column, label, reference, table, mandatory, is_range, default) in enumerate(parameters, 1):
            ProcessPara.objects.update_or_create(
                process=process, column_name=column,
                defaults={"name": label, "reference": reference, "ref_table": table,
                          "is_mandatory": mandatory, "is_range": is_range, "default_value": default,
                          "seq_no": seq * 10, **SYSTEM},
            )
    role = Role.objects.filter(client__value="GardenWorld", name="GardenWorld User").first()
    if role is not None:
        for value, may_run in GARDEN_USER_PROCESSES.items():
            ProcessAccess.objects.update_or_create(
                role=role, process=processes[value], defaults={"is_read_write": may_run},
            )
    log(f"processes: reports {', '.join(DEMO_PROCESSES)}; GardenWorld User runs Order_Detail")
