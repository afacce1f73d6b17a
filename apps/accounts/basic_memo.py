"""HTTP Basic at bearer speed: a successful password check is remembered for a short time.

A Basic client (the Nuxeo client's default) sends the password with every request, and a full
password hash costs tenths of a second. Real Nuxeo checks it once and then rides its session; here
the check is remembered in Django's cache (shared by every node with ``CACHE_URL``):

- the cache key is a keyed hash (HMAC with ``SECRET_KEY``) of user name and password, so neither
  the password nor anything that can be checked against it offline without the key is stored;
- the value names the user and carries a fingerprint (an HMAC again) of the user's password hash,
  ``is_active`` and a per-user generation. The user row is read on every request anyway, so a
  password change or a deactivation makes the fingerprint differ at once, and a logout bumps the
  generation (``forget_user``). A generation evicted from the cache also means "check again".
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.accounts.models import User

_KEY_SALT = "ledgerdoc.accounts.basic-memo.key"
_FINGERPRINT_SALT = "ledgerdoc.accounts.basic-memo.fingerprint"


def _memo_key(user_name: str, password: str) -> str:
    # A NUL cannot occur in a Basic user name before the colon, so the pair is unambiguous.
    digest = salted_hmac(_KEY_SALT, f"{user_name}\x00{password}", algorithm="sha256").hexdigest()
    return f"basic-memo:{digest}"


def _generation_key(user_id: int) -> str:
    return f"basic-memo-gen:{user_id}"


def _fingerprint(user: User, generation: int) -> str:
    value = f"{user.pk}:{user.password}:{int(user.is_active)}:{generation}"
    return salted_hmac(_FINGERPRINT_SALT, value, algorithm="sha256").hexdigest()


def recall(user_name: str, password: str) -> User | None:
    """The user these exact credentials were checked for a moment ago, if nothing changed since."""
    seconds = int(settings.AUTH_BASIC_MEMO_SECONDS)
    if seconds <= 0:
        return None
    memo = cache.get(_memo_key(user_name, password))
    if not isinstance(memo, dict):
        return None
    user = User.objects.filter(pk=memo.get("user_id"), is_active=True).first()
    if user is None:
        return None
    generation = cache.get(_generation_key(user.pk))
    if generation is None:
        return None
    if not constant_time_compare(str(memo.get("fingerprint", "")), _fingerprint(user, generation)):
        return None
    return user


def remember(user_name: str, password: str, user: User) -> None:
    """Remember that these credentials were just checked and belong to ``user``."""
    seconds = int(settings.AUTH_BASIC_MEMO_SECONDS)
    if seconds <= 0 or not user.is_active:
        return
    generation_key = _generation_key(user.pk)
    cache.add(generation_key, 0, timeout=None)
    generation = cache.get(generation_key)
    if generation is None:
        return
    cache.set(
        _memo_key(user_name, password),
        {"user_id": user.pk, "fingerprint": _fingerprint(user, generation)},
        timeout=seconds,
    )


def forget_user(user_id: int) -> None:
    """Drop every remembered Basic check of this user (logout): the next request hashes again."""
    generation_key = _generation_key(user_id)
    cache.add(generation_key, 0, timeout=None)
    try:
        cache.incr(generation_key)
    except ValueError:  # evicted between add and incr: a missing generation is a miss anyway
        cache.delete(generation_key)
