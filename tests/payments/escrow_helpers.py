"""A payment institution that can take escrow payments in EUR for NL (and elsewhere), and
helpers for escrow tests."""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from payments import services
from payments.models import InstitutionProfile
from tests.payments.conftest import make_compliant_institution


def make_escrow_institution(*, corridors=(("EUR", "NL"),), **subject_kwargs) -> InstitutionProfile:
    """A compliant institution with a licence and enabled corridors for `corridors`."""
    profile = make_compliant_institution(**subject_kwargs)
    manager = profile.manager
    today = timezone.localdate()
    services.save_licence(
        actor=manager,
        institution_id=profile.pk,
        number=f"EU{profile.pk:06d}",
        issuing_authority="De Nederlandsche Bank",
        business_types=["cross-border payments"],
        currencies=sorted({c for c, _ in corridors}),
        countries=sorted({k for _, k in corridors}),
        valid_from=today - timedelta(days=365),
        valid_to=today + timedelta(days=3 * 365),
    )
    for currency, country in corridors:
        services.add_corridor(actor=manager, institution_id=profile.pk, currency=currency, country=country)
    services.run_compliance_check(institution_id=profile.pk, trigger="regulator")
    fresh = InstitutionProfile.objects.get(pk=profile.pk)
    assert fresh.status == "compliant", fresh.status_reason
    assert fresh.corridors.filter(enabled=True, currency=corridors[0][0]).exists()
    fresh.manager = manager
    return fresh


def fund_lease(lease, *, institution=None):
    """Pay a lease's price into escrow (as its tenant would) through a compliant institution
    with a corridor for the lease currency and the warehouse country (made if needed)."""
    from payments.services import escrow
    from warehouses.services.escrow import amount_due

    warehouse = lease.listing.warehouse
    pair = (lease.currency, warehouse.country)
    if institution is None:
        institution = InstitutionProfile.objects.filter(
            status="compliant", corridors__enabled=True, corridors__currency=pair[0], corridors__country=pair[1]
        ).first() or make_escrow_institution(corridors=(pair,))
    return escrow.hold_payment(
        actor=None,
        reference=lease.escrow_ref,
        payer_subject_id=lease.tenant_id,
        payee_subject_id=warehouse.owner_id,
        institution_id=institution.pk,
        amount=amount_due(lease=lease),
        currency=lease.currency,
        country=warehouse.country,
    )


def wait_until_blocked(count: int, timeout: float = 10.0) -> None:
    """Wait until `count` sessions of the test database wait for a lock held by another
    (PostgreSQL only): lets a race test line threads up in a known order."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, f"{count} sessions never waited for a lock"
            time.sleep(0.02)
