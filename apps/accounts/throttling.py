"""Against password guessing: one failure budget per client address and user name, shared by every
door that checks a password (the API login, HTTP Basic, the UI sign-in); and the refresh throttle
(per login session)."""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.selectors import user_name_key


def client_address(request) -> str:
    """The caller's address (a DRF or a plain Django request). ``X-Forwarded-For`` is trusted only
    with ``NUM_PROXIES`` set: a client could otherwise send a new one with every guess and never be
    throttled."""
    if api_settings.NUM_PROXIES is None:
        return request.META.get("REMOTE_ADDR", "")
    return BaseThrottle().get_ident(request)


def _ident(address: str, user_name: str) -> str:
    """A cache-safe identity: the user name is normalized as the lookup does it (so a padded or
    full-width spelling shares the real name's budget) and hashed, so spaces, unicode or a long
    name never make a key that memcached refuses (the address alone is not enough: it would let
    one user's failures lock out everyone behind the same NAT)."""
    digest = hashlib.sha256(user_name_key(user_name[:1000]).encode()).hexdigest()[:32]
    return f"{address}:{digest}"


_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|m|min|h|hour|d|day)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@lru_cache(maxsize=8)
def parse_limit(raw: str) -> tuple[int, int]:
    """``AUTH_FAILURE_LIMIT`` ("30/5m", "30/300s", "10/h") → (failures, window in seconds)."""
    match = _LIMIT.match(raw or "")
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ImproperlyConfigured(
            f"AUTH_FAILURE_LIMIT must read '<failures>/<window>' such as '30/5m', not {raw!r}."
        )
    return int(match.group(1)), int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3)]


class FailureBudget:
    """The failed password checks one client address may make for one user name in a sliding window
    (``AUTH_FAILURE_LIMIT``), whichever door they come through. Past it every attempt is refused
    until enough failures age out, even with the right password (it would otherwise confirm a
    guess).

    Successes do not spend it: a lockout that legitimate use can trigger is a denial of service of
    its own. So that parallel guesses cannot all pass the check before any of them is counted, an
    attempt takes its unit before the password is checked (an atomic increment) and gives it back
    when the password was right (``refund``).

    The window is counted in ``SLICES`` slices, one cache counter each (``incr`` is atomic in
    Redis, memcached and the local-memory cache): the sum covers at least the whole window and at
    most one slice more, so a failure is never forgotten early."""

    SLICES = 10
    timer = staticmethod(time.time)

    def __init__(self, request, user_name: str) -> None:
        self.limit, self.window = parse_limit(settings.AUTH_FAILURE_LIMIT)
        self.slice = self.window / self.SLICES
        self.prefix = "auth-failures:" + _ident(client_address(request), user_name)
        self.wait_seconds = 0
        self._spent_key: str | None = None

    def _key(self, index: int) -> str:
        return f"{self.prefix}:{index}"

    def _counts(self, now: float) -> tuple[int, dict[int, int]]:
        current = int(now // self.slice)
        indices = range(current - self.SLICES, current + 1)
        found = cache.get_many([self._key(index) for index in indices])
        counts = {index: max(0, int(found.get(self._key(index)) or 0)) for index in indices}
        return current, counts

    def _refuse(self, now: float, counts: dict[int, int]) -> bool:
        """Note when the next attempt is possible: when enough of the oldest slices have left."""
        remaining = sum(counts.values())
        wait = self.window
        for index in sorted(counts):
            remaining -= counts[index]
            if remaining < self.limit:
                wait = (index + self.SLICES + 1) * self.slice - now
                break
        self.wait_seconds = max(1, math.ceil(wait))
        return False

    def blocked(self) -> bool:
        """The budget is spent (nothing is taken from it)."""
        now = self.timer()
        _, counts = self._counts(now)
        if sum(counts.values()) >= self.limit:
            self._refuse(now, counts)
            return True
        return False

    def spend(self) -> bool:
        """Take one attempt from the budget before a password check; False (and nothing taken) when
        it is spent, ``wait_seconds`` then says for how long."""
        now = self.timer()
        current, counts = self._counts(now)
        if sum(counts.values()) >= self.limit:
            return self._refuse(now, counts)
        key = self._key(current)
        timeout = math.ceil(self.window + 2 * self.slice)
        cache.add(key, 0, timeout)
        try:
            mine = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout)
            mine = 1
        others = sum(count for index, count in counts.items() if index != current)
        if others + mine > self.limit:  # parallel attempts took the last units first
            self._give_back(key)
            return self._refuse(now, {**counts, current: mine})
        self._spent_key = key
        return True

    def refund(self) -> None:
        """The password was right: the attempt is not a failure."""
        if self._spent_key is not None:
            self._give_back(self._spent_key)
            self._spent_key = None

    @staticmethod
    def _give_back(key: str) -> None:
        with contextlib.suppress(ValueError):  # the slice expired meanwhile: nothing to give back
            cache.decr(key)


class RefreshRateThrottle(SimpleRateThrottle):
    """Refreshes per login session: the one that a verified refresh token names, so one client's
    junk refreshes never lock out the other sessions behind the same address. An unreadable token
    (bad signature, expired, not a refresh token) is counted per client address."""

    scope = "login"

    def get_cache_key(self, request, view):
        raw = request.data.get("refresh_token") if isinstance(request.data, dict) else None
        session_id = None
        if isinstance(raw, str) and len(raw) <= 4096:
            try:
                session_id = RefreshToken(raw).get("sid")
            except TokenError:
                session_id = None
        if isinstance(session_id, str) and session_id:
            ident = "sid:" + hashlib.sha256(session_id.encode()).hexdigest()[:32]
        else:
            ident = "address:" + client_address(request)
        return self.cache_format % {"scope": "refresh", "ident": ident}
