"""The test suite: PostgreSQL and Redis, the same as production."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-insecure-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "*")
# Under pytest-xdist each worker process (gw0, gw1, ...) has a test database of its own
# (pytest-django adds the suffix) and needs a Redis database of its own too: the Celery
# broker of the integration tests, throttles and caches must not be shared between them.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw"):
    _redis_base, _, _redis_db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_redis_base}/{(int(_redis_db or 0) + 1 + int(_xdist_worker[2:])) % 16}"

from .base import *  # noqa: E402,F403

DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_entrepot")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Tests change keys and institutions with queryset updates: no per-process key cache
# unless a test (or the screening benchmark, through the environment) turns it on.
ENTREPOT["TOKEN_CACHE_SECONDS"] = env.float("TOKEN_CACHE_SECONDS", default=0)  # noqa: F405
ENTREPOT["PAYMENTS"]["API_KEY_CACHE_SECONDS"] = env.float("API_KEY_CACHE_SECONDS", default=0)  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "100000/min", "user": "100000/min", "api_key": "100000/min"}  # noqa: F405
# Static files come from the finders; don't warn that STATIC_ROOT was never collected.
WHITENOISE_AUTOREFRESH = True
# Webhook receivers in tests and local demos listen on 127.0.0.1.
ENTREPOT["PAYMENTS"]["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=True)  # noqa: F405
