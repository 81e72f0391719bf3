"""Warehouse marketplace pages: merchants search, book and follow their leases; operators
manage warehouses and listings, answer requests before their deadline, confirm check-in
and read each listing's availability calendar."""

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core import csv as csv_export
from core.errors import DomainError, NotFound
from core.web import add_domain_error, form_status, submit, visible_or_404
from credit.selectors.accounts import active_memberships
from warehouses import selectors
from warehouses.models import Lease, Listing
from warehouses.services import leases as lease_services
from warehouses.services import listings as listing_services
from warehouses.services.leases import lease_price
from warehouses.services.payment_deadline import payment_due_at
from warehouses.web import forms
from warehouses.web.escrow_views import attach_escrow_status, escrow_context
from warehouses.web.transfer_views import lease_page_context, operator_ratings, rating_context


def _subjects(user):
    return [m.subject for m in active_memberships(user=user)]


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def search(request):
    form = forms.SearchForm(request.GET or None)
    results, search_params, page = None, None, None
    if form.is_bound and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "", [])}
        data["features"] = tuple(dict.fromkeys(data.get("features", ())))  # repeats: one condition each
        data["sort"] = data.get("sort") or "price"
        search_params = selectors.ListingSearch(**data)
        # No total count: counting every available listing would cost more than the page.
        try:
            number = min(max(1, int(request.GET.get("page", 1))), 1_000_000)  # no OFFSET overflow
        except ValueError:
            number = 1
        rows = list(selectors.search_listings(search=search_params)[(number - 1) * 20 : number * 20 + 1])
        page = {
            "number": number,
            "has_previous": number > 1,
            "has_next": len(rows) > 20,
            "previous_page_number": number - 1,
            "next_page_number": number + 1,
        }
        results = []
        for listing in rows[:20]:
            row = {"listing": listing, "total": None, "distance": None}
            if search_params.start:
                row["total"] = lease_price(
                    unit_price=listing.price_per_unit_day,
                    units=search_params.units or listing.min_units,
                    start=search_params.start,
                    end=search_params.end,
                    currency=listing.currency,
                )
            if search_params.lat is not None and search_params.lon is not None:
                w = listing.warehouse
                row["distance"] = selectors.haversine_km(
                    search_params.lat, search_params.lon, float(w.latitude), float(w.longitude)
                )
            results.append(row)
    return render(
        request,
        "warehouses/search.html",
        {
            "form": form,
            "results": results,
            "page": page,
            "search": search_params,
            "query": _query_without_page(request),
        },
        status=400 if form.errors else 200,
    )


def listing_detail(request, listing_id: int):
    listing = visible_or_404(selectors.get_listing, user=request.user, listing_id=listing_id)
    tenants = (
        [s for s in _subjects(request.user) if s.pk != listing.warehouse.owner_id]
        if request.user.is_authenticated
        else []
    )
    initial = {k: request.GET.get(k) for k in ("start", "end", "units") if request.GET.get(k)}
    form = forms.LeaseRequestForm(request.POST or None, tenants=tenants, initial=initial)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        if form.is_valid():
            try:
                lease = lease_services.request_lease(
                    actor=request.user,
                    tenant_id=form.cleaned_data["tenant"],
                    listing_id=listing.pk,
                    units=form.cleaned_data["units"],
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                if lease.status == Lease.Status.APPROVED:
                    messages.success(request, "Booked: the lease is approved.")
                else:
                    messages.success(
                        request,
                        f"Requested: the units are held until {lease.hold_expires_at:%Y-%m-%d %H:%M} UTC, "
                        "when the operator must have answered.",
                    )
                return redirect("warehouses:lease", lease_id=lease.pk)
    return render(
        request,
        "warehouses/listing_detail.html",
        {"listing": listing, "form": form, "tenants": tenants, **rating_context(listing=listing)},
        status=400 if form.errors else 200,
    )


@login_required
def my_leases(request):
    role = request.GET.get("role") if request.GET.get("role") in ("tenant", "operator") else None
    status = request.GET.get("status") if request.GET.get("status") in Lease.Status.values else None
    qs = selectors.leases_visible_to(user=request.user, role=role).order_by("-requested_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="leases.csv"'
        writer = csv_export.writer(response)
        writer.writerow(
            [
                "id",
                "listing",
                "warehouse",
                "tenant",
                "units",
                "start",
                "end_exclusive",
                "status",
                "total_price",
                "currency",
                "hold_expires_at",
            ]
        )
        for lease in qs[:10000]:
            writer.writerow(
                [
                    lease.pk,
                    lease.listing.title,
                    lease.listing.warehouse.name,
                    lease.tenant.legal_name,
                    lease.units,
                    lease.start,
                    lease.end,
                    lease.status,
                    lease.total_price,
                    lease.currency,
                    lease.hold_expires_at or "",
                ]
            )
        return response
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    page.object_list = attach_escrow_status(page.object_list)
    return render(
        request,
        "warehouses/leases.html",
        {
            "page": page,
            "role": role,
            "status": status,
            "statuses": Lease.Status.choices,
            "query": _query_without_page(request),
            "mine": {s.pk for s in _subjects(request.user)},
            "incoming_offer_count": selectors.incoming_transfer_offers(user=request.user).count(),
        },
    )


@login_required
def lease_detail(request, lease_id: int):
    lease = visible_or_404(selectors.get_lease, user=request.user, lease_id=lease_id)
    mine = {s.pk for s in _subjects(request.user)}
    today = timezone.localdate()
    fee = None
    if lease.tenant_id in mine and lease.status in (Lease.Status.HELD, Lease.Status.APPROVED):
        fee = lease_services.cancellation_fee(lease=lease, listing=lease.listing, today=today)
    return render(
        request,
        "warehouses/lease_detail.html",
        {
            "lease": lease,
            "is_tenant": lease.tenant_id in mine,
            "is_operator": lease.listing.warehouse.owner_id in mine,
            "cancel_fee": fee,
            "can_check_in": lease.status == Lease.Status.APPROVED and lease.start <= today < lease.end,
            "can_complete": lease.status == Lease.Status.ACTIVE and today >= lease.end,
            "can_no_show": lease.status == Lease.Status.APPROVED and today > lease.start,
            "payment_due_at": payment_due_at(lease=lease),
            **escrow_context(lease=lease, mine=mine),
            **lease_page_context(lease=lease, mine=mine),
        },
    )


LEASE_ACTIONS = {
    "approve": (lease_services.approve_lease, "Approved."),
    "reject": (lease_services.reject_lease, "Rejected: the units are free again."),
    "check-in": (lease_services.check_in_lease, "Check-in confirmed: the lease is active."),
    "complete": (lease_services.complete_lease, "Completed."),
    "cancel": (lease_services.cancel_lease, "Cancelled."),
    "no-show": (lease_services.report_no_show, "No-show recorded: the units are free again."),
    "withdraw": (lease_services.withdraw_lease, "Withdrawn: recorded as your default; the units are free again."),
}


@login_required
@require_POST
def lease_action(request, lease_id: int, action: str):
    if action not in LEASE_ACTIONS:
        raise Http404
    service, done = LEASE_ACTIONS[action]
    with_reason = ("reject", "cancel", "no-show", "withdraw")
    kwargs = {"reason": request.POST.get("reason", "")[:2000]} if action in with_reason else {}
    try:
        selectors.get_lease(user=request.user, lease_id=lease_id)
        lease = service(actor=request.user, lease_id=lease_id, **kwargs)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if action == "cancel" and lease.cancellation_fee:
            done = f"Cancelled; a late-cancellation fee of {lease.cancellation_fee} {lease.currency} applies."
        messages.success(request, done)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = f"/warehouses/leases/{lease_id}/"
    return redirect(next_url)


# --- Operator pages ------------------------------------------------------------------------


@login_required
def operator_home(request):
    return render(
        request,
        "warehouses/operator_home.html",
        {
            "requests": selectors.pending_requests(user=request.user)[:100],
            "awaiting_consent_count": selectors.transfers_awaiting_consent(user=request.user).count(),
            "operator_ratings": operator_ratings(user=request.user),
            "warehouses": selectors.warehouses_of(user=request.user).order_by("name"),
            "listings": selectors.own_listings(user=request.user),
            "now": timezone.now(),
        },
    )


@login_required
def warehouse_new(request):
    owners = _subjects(request.user)
    form = forms.WarehouseForm(request.POST or None, owners=owners)
    added = submit(
        request,
        form,
        lambda data: listing_services.create_warehouse(
            actor=request.user, owner_id=data["owner"], **{k: v for k, v in data.items() if k != "owner"}
        ),
        success=lambda warehouse: f"Warehouse {warehouse.name} added. Now offer some capacity.",
        redirect_to=lambda warehouse: f"/warehouses/mine/listings/new/?warehouse={warehouse.pk}",
    )
    if added is not None:
        return added
    return render(request, "warehouses/form.html", {"form": form, "title": "Add a warehouse"}, status=form_status(form))


@login_required
def listing_new(request):
    warehouses = list(selectors.warehouses_of(user=request.user).order_by("name"))
    if not warehouses:
        messages.info(request, "Add a warehouse first.")
        return redirect("warehouses:warehouse-new")
    today = timezone.localdate()
    initial = {
        "warehouse": request.GET.get("warehouse"),
        "available_from": today + timedelta(days=1),
        "available_until": today + timedelta(days=181),
    }
    form = forms.ListingForm(request.POST or None, warehouses=warehouses, initial=initial)
    created = submit(
        request,
        form,
        lambda data: listing_services.create_listing(
            actor=request.user, warehouse_id=data["warehouse"], **{k: v for k, v in data.items() if k != "warehouse"}
        ),
        success=lambda listing: f"Listing “{listing.title}” created ({listing.get_status_display()}).",
        redirect_to=lambda listing: reverse("warehouses:manage-listing", args=[listing.pk]),
    )
    if created is not None:
        return created
    return render(request, "warehouses/form.html", {"form": form, "title": "Offer capacity"}, status=form_status(form))


@login_required
def manage_listing(request, listing_id: int):
    listing = visible_or_404(selectors.get_own_listing, user=request.user, listing_id=listing_id)
    capacity_form = forms.CapacityForm(initial={"units": listing.units}, prefix="cap")
    extend_form = forms.ExtendForm(initial={"available_until": listing.available_until}, prefix="ext")
    if request.method == "POST":
        try:
            if "cap-units" in request.POST:
                capacity_form = forms.CapacityForm(request.POST, prefix="cap")
                if capacity_form.is_valid():
                    listing_services.change_listing_capacity(
                        actor=request.user, listing_id=listing.pk, units=capacity_form.cleaned_data["units"]
                    )
                    messages.success(request, "Capacity changed.")
                    return redirect(request.path)
            elif "ext-available_until" in request.POST:
                extend_form = forms.ExtendForm(request.POST, prefix="ext")
                if extend_form.is_valid():
                    listing_services.extend_listing(
                        actor=request.user,
                        listing_id=listing.pk,
                        available_until=extend_form.cleaned_data["available_until"],
                    )
                    messages.success(request, "Window extended.")
                    return redirect(request.path)
            elif request.POST.get("status") in Listing.Status.values:
                listing_services.set_listing_status(
                    actor=request.user, listing_id=listing.pk, status=request.POST["status"]
                )
                messages.success(request, f"Listing is now {request.POST['status']}.")
                return redirect(request.path)
            elif request.POST.get("transfer_requires_consent") in ("yes", "no"):
                consent = request.POST["transfer_requires_consent"] == "yes"
                listing_services.update_listing_terms(
                    actor=request.user, listing_id=listing.pk, transfer_requires_consent=consent
                )
                messages.success(
                    request,
                    "Lease transfers now need your consent."
                    if consent
                    else "Lease transfers no longer need your consent.",
                )
                return redirect(request.path)
        except DomainError as exc:
            target = capacity_form if "cap-units" in request.POST else extend_form
            if "status" in request.POST:
                messages.error(request, exc.message)
            else:
                add_domain_error(target, exc)
    try:
        start = date.fromisoformat(request.GET["from"]) if request.GET.get("from") else None
    except ValueError:
        start = None
    if start and not (listing.available_from <= start < listing.available_until):
        start = None  # outside the window (and no date arithmetic past year 1 or 9999)
    start = start or max(timezone.localdate(), listing.available_from)
    days = selectors.calendar(listing=listing, start=start, end=start + timedelta(days=42))
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return render(
        request,
        "warehouses/manage_listing.html",
        {
            "listing": listing,
            "weeks": weeks,
            "calendar_start": start,
            "next_from": start + timedelta(days=42),
            "prev_from": start - timedelta(days=42) if start - timedelta(days=42) >= listing.available_from else None,
            "leases": listing.leases.select_related("tenant").order_by("start", "id")[:200],
            "capacity_form": capacity_form,
            "extend_form": extend_form,
            "transitions": sorted(listing_services.STATUS_TRANSITIONS[listing.status]),
            **rating_context(listing=listing),
        },
    )
