"""Throttles against password guessing: the login call, failed HTTP Basic credentials, and the
refresh call (per login session)."""

from __future__ import annotations

import hashlib

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.selectors import user_name_key


def client_address(throttle: SimpleRateThrottle, request) -> str:
    """The caller's address. ``X-Forwarded-For`` is trusted only with ``NUM_PROXIES`` set: a client
    could otherwise send a new one with every guess and never be throttled."""
    if api_settings.NUM_PROXIES is None:
        return request.META.get("REMOTE_ADDR", "")
    return SimpleRateThrottle.get_ident(throttle, request)


def _ident(address: str, user_name: str) -> str:
    """A cache-safe identity: the user name is normalized as the lookup does it (so a padded or
    full-width spelling shares the real name's budget) and hashed, so spaces, unicode or a long
    name never make a key that memcached refuses (the address alone is not enough: it would let
    one user's failures lock out everyone behind the same NAT)."""
    digest = hashlib.sha256(user_name_key(user_name[:1000]).encode()).hexdigest()[:32]
    return f"{address}:{digest}"


class LoginRateThrottle(SimpleRateThrottle):
    """Login attempts per client address and user name."""

    scope = "login"

    def get_ident(self, request):
        return client_address(self, request)

    def get_cache_key(self, request, view):
        user_name = ""
        if isinstance(request.data, dict):
            user_name = str(request.data.get("userName", ""))
        return self.cache_format % {"scope": self.scope, "ident": _ident(self.get_ident(request), user_name)}


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
            ident = "address:" + client_address(self, request)
        return self.cache_format % {"scope": "refresh", "ident": ident}


class BasicFailureThrottle(SimpleRateThrottle):
    """Failed HTTP Basic attempts per client address and user name (same rate as logins).

    Only failures count, so a client using Basic correctly is never slowed down.
    """

    scope = "login"

    def __init__(self, request, user_name: str) -> None:
        super().__init__()
        self.key = self.cache_format % {
            "scope": "basic-failures",
            "ident": _ident(client_address(self, request), user_name),
        }

    def get_cache_key(self, request, view):
        return self.key

    def blocked(self) -> bool:
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        self.blocked()
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
