"""One failure budget per client address and normalized user name, shared by the three doors that
check a password: the API login, HTTP Basic and the UI sign-in (issue 24, item 4).

The budget is ``AUTH_FAILURE_LIMIT`` (30 failures per 5 minutes by default; the test settings keep
it, the root conftest clears the cache before each test so no test inherits another's failures).
Successes do not spend it; past it every door answers 429 with ``Retry-After``, even to the right
password, until failures age out of the window.
"""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from apps.accounts.throttling import FailureBudget, parse_limit

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/tokens"
PROTECTED = "/api/v1/auth/context"
HERE = "127.0.0.1"
ELSEWHERE = "10.20.30.40"


def api_login(name: str, password: str, address: str = HERE):
    return APIClient(REMOTE_ADDR=address).post(
        LOGIN, {"userName": name, "password": password}, format="json"
    )


def basic_get(name: str, password: str, address: str = HERE):
    client = APIClient(REMOTE_ADDR=address)
    raw = base64.b64encode(f"{name}:{password}".encode()).decode()
    return client.get(PROTECTED, HTTP_AUTHORIZATION=f"Basic {raw}")


def ui_sign_in(name: str, password: str, address: str = HERE):
    return Client(REMOTE_ADDR=address).post("/ui/login", {"username": name, "password": password})


DOORS = {"api": api_login, "basic": basic_get, "ui": ui_sign_in}
# What each door answers to the right password and to a wrong one, budget left.
PASSED = {"api": 200, "basic": 200, "ui": 302}


def assert_refused(door: str, response) -> int:
    """429 with Retry-After; a problem body from the API and Basic, a page in words from the UI."""
    assert response.status_code == 429, (door, response.status_code, response.content[:300])
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 330  # the window (300 s) and at most one slice of it (30 s)
    if door == "ui":
        page = response.content.decode()
        assert "Too many failed sign-ins" in page and "Please try again in" in page
        assert "minute" in page or "second" in page
    else:
        problem = response.json()
        assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    return wait


def test_the_test_settings_keep_the_real_default(settings):
    assert settings.AUTH_FAILURE_LIMIT == "30/5m"
    assert parse_limit(settings.AUTH_FAILURE_LIMIT) == (30, 300)


@pytest.mark.parametrize("last", ["api", "basic", "ui"])
def test_failures_through_all_three_doors_share_one_budget(demo, last):
    for door in ("api", "basic", "ui"):
        for _ in range(10):
            answer = DOORS[door]("GardenUser", "guess")
            assert answer.status_code == 401, (door, answer.content[:300])
    # The 31st attempt, through any door, waits: even with the right password.
    assert_refused(last, DOORS[last]("GardenUser", "GardenUser"))
    for door in DOORS:
        assert_refused(door, DOORS[door]("GardenUser", "GardenUser"))
        assert_refused(door, DOORS[door]("GardenUser", "guess"))


def test_thirty_api_failures_close_basic_and_the_ui_too(demo):
    for _ in range(30):
        assert api_login("GardenUser", "guess").status_code == 401
    assert_refused("basic", basic_get("GardenUser", "GardenUser"))
    assert_refused("ui", ui_sign_in("GardenUser", "GardenUser"))


def test_successes_do_not_spend_the_budget(demo, settings):
    settings.AUTH_BASIC_MEMO_SECONDS = 0  # every Basic request checks the password
    for _ in range(29):
        assert api_login("GardenUser", "guess").status_code == 401
    for number in range(100):
        door = ("api", "basic", "ui")[number % 3]
        answer = DOORS[door]("GardenUser", "GardenUser")
        assert answer.status_code == PASSED[door], (number, door, answer.content[:300])
    # 100 successes later, the 30th failure is still only a failure; the 31st attempt waits.
    assert api_login("GardenUser", "guess").status_code == 401
    assert_refused("api", api_login("GardenUser", "GardenUser"))


def test_a_hundred_successful_logins_then_a_wrong_password_is_401(demo):
    for _ in range(100):
        assert api_login("GardenUser", "GardenUser").status_code == 200
    answer = api_login("GardenUser", "wrong")
    assert answer.status_code == 401, answer.content
    assert answer.json()["status"] == 401


def test_another_user_name_or_address_has_a_budget_of_its_own(demo):
    for _ in range(30):
        assert api_login("GardenUser", "guess").status_code == 401
    assert_refused("api", api_login("GardenUser", "GardenUser"))
    for door in DOORS:
        # Another user from the same address ...
        assert DOORS[door]("GardenAdmin", "GardenAdmin").status_code == PASSED[door], door
        # ... and the same user from another address.
        assert DOORS[door]("GardenUser", "GardenUser", ELSEWHERE).status_code == PASSED[door], door
    assert api_login("GardenUser", "guess", ELSEWHERE).status_code == 401


def test_a_forged_forwarded_for_does_not_buy_a_new_budget(demo):
    for n in range(30):
        answer = APIClient().post(
            LOGIN, {"userName": "GardenUser", "password": "guess"}, format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
        assert answer.status_code == 401
    assert_refused("api", api_login("GardenUser", "GardenUser"))


SPELLINGS = ["GardenUser ", " GardenUser", "GardenUser\u00a0", "ＧａｒｄｅｎＵｓｅｒ", "gardenuser",
             "GARDENUSER"]


def test_normalized_spellings_share_the_budget(demo):
    failures = 0
    while failures < 30:
        spelling = SPELLINGS[failures % len(SPELLINGS)]
        door = ("api", "basic", "ui")[failures % 3]
        answer = DOORS[door](spelling, "guess")
        assert answer.status_code == 401, (spelling, door, answer.content[:300])
        failures += 1
    for door in DOORS:
        assert_refused(door, DOORS[door]("GardenUser", "GardenUser"))
        assert_refused(door, DOORS[door]("ＧａｒｄｅｎＵｓｅｒ", "GardenUser"))


def test_a_blocked_name_waits_until_the_window_has_passed(demo, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(FailureBudget, "timer", staticmethod(lambda: clock[0]))
    for _ in range(30):
        assert basic_get("GardenUser", "guess").status_code == 401
    first = assert_refused("api", api_login("GardenUser", "GardenUser"))
    assert first >= 300  # all thirty failures are in this window
    clock[0] += 240
    later = assert_refused("basic", basic_get("GardenUser", "GardenUser"))
    assert later == first - 240, "Retry-After counts down with the window"
    clock[0] += later - 1
    assert_refused("ui", ui_sign_in("GardenUser", "GardenUser"))
    clock[0] += 1
    for door in DOORS:
        assert DOORS[door]("GardenUser", "GardenUser").status_code == PASSED[door], door


def test_failures_age_out_one_slice_at_a_time(demo, monkeypatch):
    clock = [2_000_000.0]
    monkeypatch.setattr(FailureBudget, "timer", staticmethod(lambda: clock[0]))
    for _ in range(20):
        assert api_login("GardenUser", "guess").status_code == 401
    clock[0] += 120
    for _ in range(10):
        assert api_login("GardenUser", "guess").status_code == 401
    assert_refused("api", api_login("GardenUser", "GardenUser"))
    # The first twenty leave the window first: then ten more failures may be made, not thirty.
    clock[0] += 200
    for _ in range(20):
        assert api_login("GardenUser", "guess").status_code == 401
    assert_refused("api", api_login("GardenUser", "GardenUser"))


def test_parallel_attempts_cannot_overdraw_the_budget(demo):
    """Each attempt takes its unit before the password is checked: forty guesses in flight at once
    (all past the check before any is answered) get thirty units, not forty."""
    request = RequestFactory().post(LOGIN, REMOTE_ADDR=HERE)
    budgets = [FailureBudget(request, "GardenUser") for _ in range(40)]
    granted = [budget.spend() for budget in budgets]
    assert granted.count(True) == 30
    assert all(budget.wait_seconds >= 1 for budget, ok in zip(budgets, granted, strict=True) if not ok)
    # The right password gives its unit back: one more attempt may then be made.
    budgets[0].refund()
    assert FailureBudget(request, "GardenUser").spend() is True
    assert FailureBudget(request, "GardenUser").spend() is False


def test_the_limit_is_a_setting(demo, settings):
    settings.AUTH_FAILURE_LIMIT = "2/1m"
    assert [api_login("GardenUser", "guess").status_code for _ in range(2)] == [401, 401]
    answer = api_login("GardenUser", "GardenUser")
    assert answer.status_code == 429 and 1 <= int(answer["Retry-After"]) <= 66


@pytest.mark.parametrize("raw", ["", "30", "30/", "0/5m", "30/0m", "x/5m", "30/5 weeks"])
def test_a_malformed_limit_is_refused(raw):
    with pytest.raises(ImproperlyConfigured):
        parse_limit(raw)


@pytest.mark.parametrize("raw,expected", [("30/5m", (30, 300)), ("10/min", (10, 60)),
                                          ("5/300s", (5, 300)), ("100/h", (100, 3600)),
                                          ("1000/1d", (1000, 86400))])
def test_limit_spellings(raw, expected):
    assert parse_limit(raw) == expected
