"""Test settings: the real settings, plus a fast password hasher and a private media folder.

With ``DATABASE_URL``/``CELERY_BROKER_URL``/``AWS_S3_ENDPOINT_URL`` set (``.ci/run`` sets them), tests
run against those real services. Celery runs eagerly except in tests that ask for the real worker.
"""

from pathlib import Path

from config.settings import *
from config.settings import LOGGING, STATIC_ROOT, STORAGE_BACKEND, STORAGES, VAR_DIR, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(env.str("TEST_MEDIA_ROOT", default=str(VAR_DIR / "test-media")))
if STORAGE_BACKEND == "local":
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
CELERY_TASK_ALWAYS_EAGER = env.bool("TEST_CELERY_EAGER", default=True)
# Webhook tests (and CI's Celery worker, which runs these settings) deliver to a local receiver.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=True)
LOGGING["root"]["level"] = "ERROR"
# WhiteNoise warns about a missing STATIC_ROOT; tests serve static files through the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
