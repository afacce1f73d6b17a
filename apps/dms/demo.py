"""Documents part of the demo (DESIGN §9): each client gets /default-domain/workspaces."""

from __future__ import annotations

from collections.abc import Callable

from apps.accounts.models import Client
from apps.dms.services import folder_ensure_path

DEMO_TREE = [("default-domain", "Domain"), ("workspaces", "WorkspaceRoot")]


def load(log: Callable[[str], None] = print) -> None:
    for client in Client.objects.exclude(pk=0):
        folder_ensure_path(client_id=client.pk, org_id=0, names=DEMO_TREE)
        log(f"dms: /default-domain/workspaces for {client.name}")
