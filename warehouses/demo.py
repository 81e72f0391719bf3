"""Demo warehouses and listings for the demo operators of credit/demo.py. Safe to run
again: everything is looked up by owner and name before it is made. Listings start today
so leases can be checked in during a demo; one held request waits for the `operator`."""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from credit.models import Subject
from warehouses.models import Lease, Listing, Warehouse
from warehouses.services import ledger

# registration number of the owner, warehouse fields, listings (title, units, price, currency, mode, min grade)
SITES = [
    (
        "EIN-84-1234567",
        dict(
            name="Pacific Gateway Carson DC",
            country="US",
            city="Los Angeles",
            address="1200 E Dominguez St, Carson, CA",
            latitude="33.8470",
            longitude="-118.2560",
            capacity_unit="pallet",
            customs_status="bonded",
            services=["pick_and_pack", "cross_docking", "returns"],
            certifications=["C-TPAT", "ISO 9001"],
        ),
        [
            ("Bonded pallet positions near the ports of LA/Long Beach", 400, "1.1500", "USD", "instant", ""),
            ("Overflow racking, peak season", 150, "0.9500", "USD", "request", "M"),
        ],
    ),
    (
        "KVK-12345678",
        dict(
            name="Rotterdam Maasvlakte Fulfilment Centre",
            country="NL",
            city="Rotterdam",
            address="Europaweg 875, 3199 LD Maasvlakte",
            latitude="51.9540",
            longitude="4.0410",
            capacity_unit="pallet",
            customs_status="bonded",
            temperature_min_c="2.0",
            temperature_max_c="8.0",
            services=["pick_and_pack", "labelling", "returns"],
            certifications=["AEO", "ISO 9001", "GDP"],
        ),
        [
            ("Chilled bonded pallets (2-8 °C)", 120, "2.4000", "EUR", "request", "B"),
            ("Ambient pallet positions, EU gateway", 600, "0.8500", "EUR", "request", ""),
        ],
    ),
    (
        "HRB-98765",
        dict(
            name="Frankfurt Cargo City Süd Lager",
            country="DE",
            city="Frankfurt",
            address="Cargo City Süd, Gebäude 558, 60549 Frankfurt am Main",
            latitude="50.0330",
            longitude="8.5560",
            capacity_unit="sqm",
            customs_status="bonded",
            hazmat_classes=["3", "8", "9"],
            services=["cross_docking", "labelling"],
            certifications=["TAPA FSR", "AEO"],
        ),
        [("Air-cargo floor space next to FRA", 900, "0.3200", "EUR", "instant", "M")],
    ),
    (
        "DMCC-445566",
        dict(
            name="Jebel Ali Free Zone Warehouse",
            country="AE",
            city="Dubai",
            address="JAFZA South, Plot S30215",
            latitude="24.9850",
            longitude="55.0650",
            capacity_unit="cbm",
            customs_status="free_zone",
            services=["pick_and_pack", "kitting", "last_mile"],
            certifications=["ISO 9001"],
        ),
        [("Free-zone storage for GCC e-commerce", 2500, "0.1800", "AED", "request", "")],
    ),
    (
        "ABN-51824753556",
        dict(
            name="Southern Cross Port Botany Store",
            country="AU",
            city="Sydney",
            address="Foreshore Rd, Banksmeadow NSW 2019",
            latitude="-33.9630",
            longitude="151.2170",
            capacity_unit="pallet",
            customs_status="none",
            services=["pick_and_pack", "returns", "last_mile"],
            certifications=["ISO 9001"],
        ),
        [("Pallet positions for AU/NZ fulfilment", 300, "1.6000", "AUD", "instant", "B")],
    ),
    (
        "0104-01-123456",
        dict(
            name="Tokyo Bay Ōi Shared Warehouse",
            country="JP",
            city="Tokyo",
            address="Tokai 3-chome, Ota-ku",
            latitude="35.5920",
            longitude="139.7620",
            capacity_unit="pallet",
            customs_status="bonded",
            temperature_min_c="-25.0",
            temperature_max_c="-18.0",
            services=["pick_and_pack"],
            certifications=["ISO 22000"],
        ),
        [("Frozen bonded pallets, Tokyo Bay", 60, "420.0000", "JPY", "request", "B")],
    ),
    (
        "12.345.678/0001-90",
        dict(
            name="Guarulhos Spare Mezzanine",
            country="BR",
            city="São Paulo",
            address="Rod. Hélio Smidt, Guarulhos - SP",
            latitude="-23.4320",
            longitude="-46.4690",
            capacity_unit="sqm",
            customs_status="none",
            services=["pick_and_pack", "labelling"],
            certifications=[],
        ),
        [("Spare mezzanine near GRU airport", 350, "2.1000", "BRL", "request", "")],
    ),
    (
        "KRS-0000123456",
        dict(
            name="Wisła Magazyny Błonie",
            country="PL",
            city="Warsaw",
            address="ul. Fabryczna 8, 05-870 Błonie",
            latitude="52.1990",
            longitude="20.6170",
            capacity_unit="pallet",
            customs_status="bonded",
            hazmat_classes=["3"],
            services=["pick_and_pack", "returns", "cross_docking"],
            certifications=["AEO", "ISO 9001"],
        ),
        [("Bonded pallets for CEE distribution", 800, "0.6500", "EUR", "instant", "")],
    ),
]


@transaction.atomic
def seed(*, password: str) -> list[str]:
    today = timezone.localdate()
    made = 0
    for number, fields, listings in SITES:
        owner = Subject.objects.filter(registration_number=number).first()
        if owner is None:
            continue
        values = {
            k: (Decimal(v) if k in ("latitude", "longitude", "temperature_min_c", "temperature_max_c") else v)
            for k, v in fields.items()
        }
        warehouse = Warehouse.objects.filter(owner=owner, name=values["name"]).first()
        if warehouse is None:
            warehouse = Warehouse(owner=owner, **values)
            warehouse.feature_tags = warehouse.compute_feature_tags()
            warehouse.save()
        for title, units, price, currency, mode, min_grade in listings:
            if Listing.objects.filter(warehouse=warehouse, title=title).exists():
                continue
            listing = Listing.objects.create(
                warehouse=warehouse,
                country=warehouse.country,
                title=title,
                units=units,
                available_from=today,
                available_until=today + timedelta(days=180),
                price_per_unit_day=Decimal(price),
                currency=currency,
                min_units=1,
                min_days=1 if mode == "instant" else 7,
                booking_mode=mode,
                min_tenant_grade=min_grade,
                free_cancellation_days=7,
                cancellation_fee_percent=Decimal("25"),
                status=Listing.Status.PUBLISHED,
            )
            ledger.create_days(listing=listing, start=listing.available_from, end=listing.available_until)
            made += 1

    # One request waiting for the demo operator (Rotterdam), from the demo merchant.
    merchant = get_user_model().objects.filter(username="merchant").first()
    ambient = Listing.objects.filter(title="Ambient pallet positions, EU gateway").first()
    if merchant and ambient and not Lease.objects.filter(listing=ambient).exists():
        from warehouses.services.leases import request_lease

        tenant = merchant.memberships.filter(status="active").first()
        if tenant is not None:
            request_lease(
                actor=merchant,
                tenant_id=tenant.subject_id,
                listing_id=ambient.pk,
                units=40,
                start=today + timedelta(days=3),
                end=today + timedelta(days=33),
                note="Q1 replenishment stock, 40 EUR pallets.",
            )
    transfer_lines = _seed_transfers(password=password)
    escrow_lines = _seed_escrow()
    history_lines = _seed_history()
    return [
        "",
        f"Warehouses: {Warehouse.objects.count()} sites, {Listing.objects.count()} listings ({made} new). "
        "Search at /warehouses/; `operator` answers requests at /warehouses/mine/.",
        *transfer_lines,
        *escrow_lines,
        *history_lines,
    ]


TRANSFER_LISTING = "Bonded pallet positions near the ports of LA/Long Beach"
TRANSFER_RECIPIENT = "SC-0123456"  # Albion Merchant Trading Ltd (GB)
PENDING_RECIPIENT = "0104-01-123456"  # 東京越境商事株式会社 (JP)


def _seed_transfers(*, password: str) -> list[str]:
    """Through the services: the demo merchant leases LA pallets (paid into escrow when
    the CN institution can take USD for the US), hands 8 of 20 units to Albion (the LA
    listing needs no operator consent, so it completes at once) and offers 4 of the units
    it kept to the Tokyo merchant (pending). Done once: skipped when the listing already
    has a transfer."""
    from core.errors import DomainError
    from credit.models import Membership
    from payments import selectors as payment_selectors
    from warehouses.models import LeaseTransfer
    from warehouses.services import escrow as escrow_services
    from warehouses.services import leases as lease_services
    from warehouses.services import transfers

    user_model = get_user_model()
    merchant = user_model.objects.filter(username="merchant").first()
    listing = Listing.objects.filter(title=TRANSFER_LISTING).select_related("warehouse").first()
    albion = Subject.objects.filter(registration_number=TRANSFER_RECIPIENT).first()
    tokyo = Subject.objects.filter(registration_number=PENDING_RECIPIENT).first()
    tenant = merchant.memberships.filter(status="active").first() if merchant else None
    if not (listing and albion and tokyo and tenant):
        return []
    if LeaseTransfer.objects.filter(lease__listing=listing).exists():
        return ["Lease transfers: `merchant2` (Albion) holds a transferred LA lease; see /warehouses/transfers/."]
    recipient, created = user_model.objects.get_or_create(
        username="merchant2", defaults={"email": "merchant2@demo.entrepot.test"}
    )
    if created:
        recipient.set_password(password)
        recipient.save(update_fields=["password"])
    Membership.objects.get_or_create(user=recipient, subject=albion, defaults={"role": Membership.Role.OWNER})
    if listing.transfer_requires_consent:
        listing.transfer_requires_consent = False  # this demo listing shows transfers without consent
        listing.save(update_fields=["transfer_requires_consent"])
    today = timezone.localdate()
    institution = Subject.objects.filter(registration_number="91110000MA0PAYX3C").first()
    route_ok = institution is not None and not payment_selectors.payment_route_problems(
        institution_id=institution.pk, currency=listing.currency, country=listing.warehouse.country
    )
    try:
        with transaction.atomic():
            lease = lease_services.request_lease(
                actor=merchant,
                tenant_id=tenant.subject_id,
                listing_id=listing.pk,
                units=20,
                start=today + timedelta(days=2),
                end=today + timedelta(days=32),
                note="Transfer demo: 20 pallets, 8 later handed to Albion.",
            )
            if lease.status == Lease.Status.HELD:
                lease = lease_services.approve_lease(actor=None, lease_id=lease.pk)
            if route_ok:
                escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk)
            offer = transfers.offer_transfer(
                actor=merchant, lease_id=lease.pk, to_subject_id=albion.pk, units=8, note="Our Q1 volume fell short."
            )
            done = transfers.accept_transfer(
                actor=recipient, transfer_id=offer.pk, institution_id=institution.pk if institution else None
            )
            kept = lease.children.get(tenant_id=tenant.subject_id)
            transfers.offer_transfer(
                actor=merchant, lease_id=kept.pk, to_subject_id=tokyo.pk, units=4, note="4 pallets free from day 3."
            )
    except DomainError as exc:
        return [f"Lease transfer demo skipped: {exc.message}"]
    return [
        f"Lease transfers: lease {lease.pk} split by transfer {done.pk} (8 units to Albion, login `merchant2`); "
        f"lease {kept.pk}'s offer of 4 units to the Tokyo merchant is pending. See /warehouses/transfers/."
    ]


ESCROW_NOTE = "Escrow demo:"


def _seed_escrow() -> list[str]:
    """Through the services, leases of the demo merchant at the demo operator's Rotterdam
    site in each money state: approved and paid in (funded), approved and still unpaid
    (payment due), active after check-in (first period released), and active with a dispute
    open (frozen, for `staff` at /warehouses/disputes/). Paid through the CN institution's
    EUR/NL corridor (payments/demo.py). Done once: skipped when they exist."""
    from core.errors import DomainError
    from warehouses.services import escrow as escrow_services
    from warehouses.services import leases as lease_services

    user_model = get_user_model()
    merchant = user_model.objects.filter(username="merchant").first()
    operator = user_model.objects.filter(username="operator").first()
    tenant = merchant.memberships.filter(status="active").first() if merchant else None
    chilled = Listing.objects.filter(title="Chilled bonded pallets (2-8 °C)").first()
    ambient = Listing.objects.filter(title="Ambient pallet positions, EU gateway").first()
    institution = Subject.objects.filter(registration_number="91110000MA0PAYX3C").first()
    if not (merchant and operator and tenant and chilled and ambient and institution):
        return []
    if Lease.objects.filter(note__startswith=ESCROW_NOTE).exists():
        return ["Escrow: demo leases funded, payment due, partially released and disputed; see /warehouses/leases/."]
    today = timezone.localdate()
    plan = [
        # listing, units, start offset, days, pay, check in, dispute, note
        (chilled, 12, 5, 45, True, False, None, "chilled vaccines stock, paid into escrow"),
        (chilled, 6, 10, 30, False, False, None, "approved, payment due"),
        (ambient, 25, 0, 75, True, True, None, "checked in, first 30-day period released"),
        (
            ambient,
            15,
            0,
            40,
            True,
            True,
            "Two pallets arrived with crushed corners; handling was not as agreed.",
            "checked in, disputed",
        ),
    ]
    try:
        with transaction.atomic():
            for listing, units, offset, days, paid, checked_in, dispute, note in plan:
                start = today + timedelta(days=offset)
                lease = lease_services.request_lease(
                    actor=merchant,
                    tenant_id=tenant.subject_id,
                    listing_id=listing.pk,
                    units=units,
                    start=start,
                    end=start + timedelta(days=days),
                    note=f"{ESCROW_NOTE} {note}.",
                )
                if lease.status == Lease.Status.HELD:
                    lease_services.approve_lease(actor=operator, lease_id=lease.pk)
                if paid:
                    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk)
                if checked_in:
                    lease_services.check_in_lease(actor=operator, lease_id=lease.pk)
                if dispute:
                    escrow_services.open_lease_dispute(actor=merchant, lease_id=lease.pk, reason=dispute)
    except DomainError as exc:
        return [f"Escrow demo skipped: {exc.message}"]
    return [
        "Escrow: the demo merchant's Rotterdam leases are funded, payment due, partially released and disputed "
        "(staff decide at /warehouses/disputes/)."
    ]


HISTORY_LISTING = "Seasonal overflow pallets"


@contextmanager
def _clock(at):
    """The process's clock stopped at `at` (time-machine, as in the tests: timezone.now,
    localdate and every other clock read it). The demo is seeded by `make run`, which
    installs the development requirements that time-machine is pinned in."""
    import time_machine

    with time_machine.travel(at, tick=False):
        yield


def _seed_history() -> list[str]:
    """Leases in the states that take time to reach (completed and rated both ways, a
    tenant no-show, an expired hold) plus a rejected and a cancelled request, at the demo
    operator's Rotterdam site. The services rightly refuse to check in before the start or
    complete before the end, so the demo replays each step through them at the moment it
    would have happened, with Django's clock set back; every row, audit entry and credit
    event carries that moment. Done once: skipped when the listing exists."""
    from core.errors import DomainError
    from warehouses.services import escrow as escrow_services
    from warehouses.services import leases as lease_services
    from warehouses.services import reviews

    user_model = get_user_model()
    merchant = user_model.objects.filter(username="merchant").first()
    merchant2 = user_model.objects.filter(username="merchant2").first()
    operator = user_model.objects.filter(username="operator").first()
    ambient = Listing.objects.filter(title="Ambient pallet positions, EU gateway").select_related("warehouse").first()
    institution = Subject.objects.filter(registration_number="91110000MA0PAYX3C").first()
    if not (merchant and merchant2 and operator and ambient and institution):
        return []
    if Listing.objects.filter(warehouse=ambient.warehouse, title=HISTORY_LISTING).exists():
        return ["Lease history: completed and rated, no-show, expired, rejected and cancelled leases at Rotterdam."]
    tenant = merchant.memberships.get(status="active").subject_id
    tenant2 = merchant2.memberships.get(status="active").subject_id
    now = timezone.now()
    today = timezone.localdate()

    def at(days: int):
        return now + timedelta(days=days)

    def day(days: int):
        return today + timedelta(days=days)

    try:
        with transaction.atomic():
            with _clock(at(-120)):
                listing = Listing.objects.create(
                    warehouse=ambient.warehouse,
                    country=ambient.warehouse.country,
                    title=HISTORY_LISTING,
                    units=200,
                    available_from=day(-120),
                    available_until=day(60),
                    price_per_unit_day=Decimal("0.9000"),
                    currency="EUR",
                    min_units=1,
                    min_days=7,
                    booking_mode=Listing.BookingMode.REQUEST,
                    free_cancellation_days=7,
                    cancellation_fee_percent=Decimal("20"),
                    status=Listing.Status.PUBLISHED,
                )
                ledger.create_days(listing=listing, start=listing.available_from, end=listing.available_until)

            def request(actor, subject_id, units, start, end, note):
                return lease_services.request_lease(
                    actor=actor,
                    tenant_id=subject_id,
                    listing_id=listing.pk,
                    units=units,
                    start=day(start),
                    end=day(end),
                    note=f"History demo: {note}.",
                )

            # Completed, paid out in stages, then rated by both sides.
            with _clock(at(-100)):
                done = request(merchant, tenant, 30, -95, -65, "autumn peak stock, completed")
                lease_services.approve_lease(actor=operator, lease_id=done.pk)
                escrow_services.pay_lease(actor=merchant, lease_id=done.pk, institution_id=institution.pk)
            with _clock(at(-95)):
                lease_services.check_in_lease(actor=operator, lease_id=done.pk)
            with _clock(at(-65)):
                lease_services.complete_lease(actor=operator, lease_id=done.pk)
            with _clock(at(-64)):
                reviews.review_lease(actor=merchant, lease_id=done.pk, stars=5, comment="Fast inbound, clean racks.")
                reviews.review_lease(actor=operator, lease_id=done.pk, stars=4, comment="Goods arrived as announced.")
            # The tenant never showed up: recorded the day after the start (a default).
            with _clock(at(-50)):
                no_show = request(merchant2, tenant2, 10, -45, -30, "booked, never delivered")
                lease_services.approve_lease(actor=operator, lease_id=no_show.pk)
                escrow_services.pay_lease(actor=merchant2, lease_id=no_show.pk, institution_id=institution.pk)
            with _clock(at(-44)):
                lease_services.report_no_show(
                    actor=operator, lease_id=no_show.pk, reason="No inbound on the start day."
                )
            # A request the operator let lapse: the hold expired and gave its units back.
            with _clock(at(-3)):
                lapsed = request(merchant, tenant, 5, 10, 20, "unanswered request")
            with _clock(at(-2)):
                lease_services.expire_lease(lease_id=lapsed.pk)
            rejected = request(merchant, tenant, 8, 20, 27, "declined by the operator")
            lease_services.reject_lease(
                actor=operator, lease_id=rejected.pk, reason="Inbound dock fully booked that week."
            )
            cancelled = request(merchant, tenant, 6, 30, 37, "cancelled in the free window")
            lease_services.approve_lease(actor=operator, lease_id=cancelled.pk)
            lease_services.cancel_lease(actor=merchant, lease_id=cancelled.pk, reason="Shipment moved to Hamburg.")
    except DomainError as exc:
        return [f"Lease history demo skipped: {exc.message}"]
    return [
        f"Lease history at Rotterdam ({HISTORY_LISTING}): completed and rated lease {done.pk}, no-show {no_show.pk} "
        f"(merchant2), expired {lapsed.pk}, rejected {rejected.pk}, cancelled {cancelled.pk}."
    ]
