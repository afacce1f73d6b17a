"""The records benchmark's data: ``ROWS`` GardenWorld business partners (BENCH000000, ...), made once.

    python manage.py shell -c "from benchmarks.records.seed import seed; seed(100000)"
"""

from __future__ import annotations

from django.db import connection


def seed(rows: int) -> int:
    from apps.accounts.models import Client
    from apps.erp.models import BPartner, BPGroup

    garden = Client.objects.get(name="GardenWorld")
    have = BPartner.objects.filter(client=garden, value__startswith="BENCH").count()
    groups = list(BPGroup.objects.filter(client=garden).order_by("pk"))
    batch = []
    for i in range(have, rows):
        batch.append(BPartner(
            client=garden, org_id=0, value=f"BENCH{i:06d}", name=f"Partner {i:06d}",
            is_customer=i % 2 == 0, bp_group=groups[i % len(groups)],
        ))
        if len(batch) == 5000:
            BPartner.objects.bulk_create(batch)
            batch = []
    if batch:
        BPartner.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute('ANALYZE "C_BPartner"')
    return BPartner.objects.filter(client=garden).count()
