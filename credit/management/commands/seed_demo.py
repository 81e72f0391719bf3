"""Load demo data, idempotently: each app that has a `demo` module contributes, in
INSTALLED_APPS order (credit, payments, warehouses), and the logins are printed."""

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand

DEMO_PASSWORD = "entrepot-demo"


class Command(BaseCommand):
    help = "Create or refresh the demo data and print the demo logins."

    def handle(self, *args, **options):
        lines = []
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            lines.extend(module.seed(password=DEMO_PASSWORD) or [])
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for line in lines:
            self.stdout.write(line)
