"""WSGI entry for bench/screening.py: the real project plus one minimal Django JSON view at
/bench/minimal/ (the baseline the screening endpoint is compared with), served by the same
gunicorn, settings and middleware."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
application = get_wsgi_application()
settings.ROOT_URLCONF = "bench.screening_urls"
