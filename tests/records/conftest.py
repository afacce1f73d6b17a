"""Records tests load only the demo parts they need (accounts, records, erp)."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

import pytest

DEMO_APPS = ("apps.accounts", "apps.records", "apps.erp")


@pytest.fixture
def demo(db):
    for name in DEMO_APPS:
        if find_spec(f"{name}.demo") is not None:
            import_module(f"{name}.demo").load(lambda *_: None)
