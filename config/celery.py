import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# The Celery queues, declared once. Each kind of background work has its own queue so that
# one cannot starve another (a nightly full grade recompute must not delay webhooks):
#   grades      credit recomputes: one subject, the flush sweep, a full run's start and chunks
#   webhooks    webhook deliveries and their sweep
#   compliance  payment-institution compliance checks (one institution, the daily run)
#   default     everything else (expiries, domain-event readers, purges, reconciliation)
# Which task goes where is CELERY_TASK_ROUTES in config/settings/base.py. A worker that must
# do everything consumes all of them: `celery -A config worker -Q default,grades,webhooks,compliance`
# (platform/Procfile, the integration tests' worker); production runs one Deployment per queue.
QUEUES = ("default", "grades", "webhooks", "compliance")

app = Celery("entrepot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
