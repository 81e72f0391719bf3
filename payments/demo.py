"""A demo payment-provider API key with a fixed, printed value (demo data only)."""

from django.db import transaction
from rest_framework_api_key.crypto import KeyGenerator

from credit.models import Subject
from payments.models import ProviderAPIKey

DEMO_PREFIX = "demo0key"
DEMO_KEY = f"{DEMO_PREFIX}.entrepot-demo-secret-not-for-production"


@transaction.atomic
def seed(*, password: str) -> list[str]:
    institution = Subject.objects.get(country="CN", registration_number="91110000MA0PAYX3C")
    if not ProviderAPIKey.objects.filter(prefix=DEMO_PREFIX).exists():
        hashed = KeyGenerator().hash(DEMO_KEY)
        ProviderAPIKey.objects.create(
            id=f"{DEMO_PREFIX}.{hashed}",
            prefix=DEMO_PREFIX,
            hashed_key=hashed,
            name="demo key",
            institution=institution,
            scopes=list(ProviderAPIKey.Scope.values),
        )
    return [f"  API key      Authorization: Api-Key {DEMO_KEY}"]
