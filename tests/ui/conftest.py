"""Fixtures of the web UI tests: Django test clients signed in through the two-step login form."""

from __future__ import annotations

import pytest
from django.test import Client


def ui_sign_in(user: str, **choice: str) -> Client:
    """A browser-like client (CSRF checks on) signed in as ``user`` (password = user name)."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/ui/login")
    token = page.cookies["csrftoken"].value
    answer = client.post("/ui/login", {"username": user, "password": user, "csrfmiddlewaretoken": token})
    assert answer.status_code == 302, answer.content
    step2 = client.get(answer["Location"])
    assert step2.status_code == 200
    token = client.cookies["csrftoken"].value
    answer = client.post("/ui/login/context", {"csrfmiddlewaretoken": token, "action": "login", **choice})
    assert answer.status_code == 302, answer.content
    client.csrf = client.cookies["csrftoken"].value
    return client


@pytest.fixture
def ui_admin(demo) -> Client:
    return ui_sign_in("GardenAdmin")


@pytest.fixture
def ui_user(demo) -> Client:
    return ui_sign_in("GardenUser")


@pytest.fixture
def ui_acme(demo) -> Client:
    return ui_sign_in("AcmeAdmin")
