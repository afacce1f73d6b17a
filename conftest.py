"""Shared fixtures: demo data, authenticated API clients, a clean cache per test."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.accounts.helpers import basic_client, bearer_client, login  # noqa: F401  (re-exported)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(db):
    """The demo data of DESIGN §9 (load_demo), inside the test's transaction."""
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def garden_admin(demo) -> APIClient:
    return bearer_client("GardenAdmin")


@pytest.fixture
def garden_user(demo) -> APIClient:
    return bearer_client("GardenUser")


@pytest.fixture
def acme_admin(demo) -> APIClient:
    return bearer_client("AcmeAdmin")
