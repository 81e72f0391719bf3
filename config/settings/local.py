"""`make run`: the project-local PostgreSQL cluster and Redis started by the local stack
(platform/scripts/run.sh), demo-friendly defaults."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-only-insecure-key-not-for-production")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# The local stack runs its own PostgreSQL and Redis on ports of their own, so they never
# collide with a system PostgreSQL on 5432 or a system Redis on 6379.
os.environ.setdefault(
    "DATABASE_URL", f"postgres://postgres@127.0.0.1:{os.environ.get('LOCAL_PG_PORT', '54329')}/entrepot"
)
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:{os.environ.get('LOCAL_REDIS_PORT', '6390')}/0")

from .base import *  # noqa: E402,F403

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# The local stack survives Redis being stopped (`make redis-stop`): the worker keeps
# trying to reconnect instead of giving up, which would make honcho stop everything.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Webhook receivers in tests and local demos listen on 127.0.0.1.
ENTREPOT["PAYMENTS"]["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=True)  # noqa: F405
