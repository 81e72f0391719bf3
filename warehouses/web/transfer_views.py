"""Lease transfer and review pages: the tenant offers a lease (or part of it) to another
subject picked by registration number, the recipient accepts choosing a payment
institution, the operator consents or declines; after completion each party rates the
other. The lease page shows the transfer history, the split leases and the reviews."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import bidi
from core.countries import country_choices
from core.errors import DomainError, NotFound
from core.web import add_domain_error, submit, visible_or_404
from credit.selectors.accounts import subject_ids_acted_for
from payments import selectors as payment_selectors
from warehouses import selectors
from warehouses.models import Lease, LeaseTransfer
from warehouses.services import reviews as review_services
from warehouses.services import transfers as transfer_services
from warehouses.services.leases import lease_price
from warehouses.services.transfer_lifecycle import TRANSFERABLE, effective_from


class TransferOfferForm(forms.Form):
    recipient_country = forms.ChoiceField(choices=country_choices(), label="Recipient's country of registration")
    recipient_registration = forms.CharField(
        max_length=300, label="Recipient's registration number or exact legal name"
    )
    units = forms.IntegerField(min_value=1, max_value=10_000_000, help_text="Handed over for the remaining days")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, lease: Lease, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["units"].widget.attrs["max"] = lease.units
        self.fields["units"].help_text = f"1 to {lease.units}, handed over for the remaining days"


class AcceptForm(forms.Form):
    institution = forms.TypedChoiceField(coerce=int, label="Pay through", widget=forms.RadioSelect)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].choices = [
            (o["institution_id"], bidi.isolate(o["name"])) for o in options if not o["problems"]
        ]


class ReviewForm(forms.Form):
    stars = forms.TypedChoiceField(
        coerce=int, choices=[(n, "★" * n) for n in range(5, 0, -1)], widget=forms.RadioSelect, label="Rating"
    )
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


def _lease_or_404(user, lease_id: int) -> Lease:
    return visible_or_404(selectors.get_lease, user=user, lease_id=lease_id)


def _transfer_or_404(user, transfer_id: int) -> LeaseTransfer:
    return visible_or_404(selectors.get_transfer, user=user, transfer_id=transfer_id)


def _review_side(*, lease: Lease, mine: set[int]) -> int | None:
    """The side (subject id) the user can still review this completed lease for."""
    if lease.status != Lease.Status.COMPLETED or lease.completed_at is None:
        return None
    if timezone.now() > lease.completed_at + timedelta(days=review_services.review_window_days()):
        return None
    done = {r.reviewer_id for r in selectors.lease_reviews(lease=lease)}
    for side in (lease.tenant_id, lease.listing.warehouse.owner_id):
        if side in mine and side not in done:
            return side
    return None


def lease_page_context(*, lease: Lease, mine: set[int]) -> dict:
    """What the lease page shows about transfers and reviews."""
    today = timezone.localdate()
    history = list(selectors.transfer_history(lease=lease))
    return {
        "transfers": history,
        "open_transfer": next((t for t in history if t.lease_id == lease.pk and t.status in LeaseTransfer.OPEN), None),
        "split_into": selectors.lease_children(lease=lease) if lease.status == Lease.Status.TRANSFERRED else [],
        "parent_lease": lease.parent
        if lease.parent_id and {lease.parent.tenant_id, lease.listing.warehouse.owner_id} & mine
        else None,
        "taken_over": bool(lease.parent_id) and lease.parent.tenant_id != lease.tenant_id,
        "reviews": selectors.lease_reviews(lease=lease),
        "can_transfer": lease.tenant_id in mine
        and lease.status in TRANSFERABLE
        and effective_from(lease=lease, today=today) < lease.end,
        "can_review": _review_side(lease=lease, mine=mine) is not None,
    }


@login_required
def lease_transfer(request, lease_id: int):
    lease = _lease_or_404(request.user, lease_id)
    if lease.tenant_id not in subject_ids_acted_for(user=request.user):
        raise Http404
    form = TransferOfferForm(request.POST or None, lease=lease)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        recipient = selectors.find_transfer_recipient(
            country=data["recipient_country"], text=data["recipient_registration"]
        )
        if recipient is None:
            form.add_error(
                "recipient_registration", "No subject with this registration number or legal name in this country."
            )
        else:
            try:
                transfer = transfer_services.offer_transfer(
                    actor=request.user,
                    lease_id=lease.pk,
                    to_subject_id=recipient.pk,
                    units=data["units"],
                    note=data["note"],
                )
            except DomainError as exc:
                if "to_subject" in exc.field_errors:
                    exc.field_errors["recipient_registration"] = exc.field_errors.pop("to_subject")
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Offered {transfer.units} units to {recipient.legal_name}; the offer lapses at "
                    f"{transfer.expires_at:%Y-%m-%d %H:%M} UTC.",
                )
                return redirect("warehouses:lease", lease_id=lease.pk)
    today = timezone.localdate()
    return render(
        request,
        "warehouses/lease_transfer.html",
        {"lease": lease, "form": form, "effective_from": effective_from(lease=lease, today=today)},
        status=400 if form.errors else 200,
    )


def _transfers_page(request, *, failed: tuple[int, AcceptForm] | None = None, status: int = 200):
    """The transfers page; `failed` = (transfer id, its bound accept form with errors)."""
    mine = subject_ids_acted_for(user=request.user)
    incoming = list(selectors.incoming_transfer_offers(user=request.user)[:100])
    accept_forms, options = {}, {}
    today = timezone.localdate()
    for t in incoming:
        # What the recipient would hold and pay if the transfer executed today.
        t.estimated_from = effective_from(lease=t.lease, today=today)
        t.estimated_price = lease_price(
            unit_price=t.lease.unit_price,
            units=t.units,
            start=t.estimated_from,
            end=max(t.lease.end, t.estimated_from),
            currency=t.lease.currency,
        )
        pair = (t.lease.currency, t.lease.listing.warehouse.country)
        if pair not in options:  # one lookup per currency and country, not per offer
            options[pair] = payment_selectors.payment_options(currency=pair[0], country=pair[1])
        accept_forms[t.pk] = AcceptForm(options=options[pair], prefix=f"t{t.pk}")
    if failed is not None and failed[0] in accept_forms:
        accept_forms[failed[0]] = failed[1]
    return render(
        request,
        "warehouses/transfers.html",
        {
            "incoming": [(t, accept_forms[t.pk]) for t in incoming],
            "awaiting_consent": selectors.transfers_awaiting_consent(user=request.user)[:100],
            "is_operator": selectors.warehouses_of(user=request.user).exists(),
            "history": selectors.transfers_visible_to(user=request.user).order_by("-created_at", "-id")[:100],
            "mine": mine,
        },
        status=status,
    )


@login_required
def transfers(request):
    return _transfers_page(request)


@login_required
@require_POST
def transfer_accept(request, transfer_id: int):
    transfer = _transfer_or_404(request.user, transfer_id)
    if transfer.to_subject_id not in subject_ids_acted_for(user=request.user):
        raise Http404  # the transferor and the operator see the transfer; only the recipient accepts
    options = payment_selectors.payment_options(
        currency=transfer.lease.currency, country=transfer.lease.listing.warehouse.country
    )
    form = AcceptForm(request.POST, options=options, prefix=f"t{transfer.pk}")
    if form.is_valid():
        try:
            transfer = transfer_services.accept_transfer(
                actor=request.user, transfer_id=transfer.pk, institution_id=form.cleaned_data["institution"]
            )
        except NotFound:  # not offered to this user (the transferor or the operator)
            raise Http404 from None
        except DomainError as exc:
            if not LeaseTransfer.objects.filter(pk=transfer.pk, status=LeaseTransfer.Status.OFFERED).exists():
                # Refused by the credit gate, lapsed or closed meanwhile: nothing left to accept.
                messages.error(request, exc.message)
                return redirect("warehouses:transfers")
            add_domain_error(form, exc)
        else:
            if transfer.status == LeaseTransfer.Status.COMPLETED:
                messages.success(request, "Accepted: the lease part is yours.")
                return redirect("warehouses:lease", lease_id=transfer.recipient_lease_id)
            messages.success(request, "Accepted: the operator must now consent.")
            return redirect("warehouses:transfers")
    elif transfer.status != LeaseTransfer.Status.OFFERED:
        messages.error(request, f"This transfer is {transfer.get_status_display().lower()}; it cannot be accepted.")
        return redirect("warehouses:transfers")
    return _transfers_page(request, failed=(transfer.pk, form), status=400)


ACTIONS = {
    "consent": (lambda user, t, reason: transfer_services.consent_transfer(actor=user, transfer_id=t), "Consented."),
    "decline": (
        lambda user, t, reason: transfer_services.decline_transfer(actor=user, transfer_id=t, reason=reason),
        "Declined.",
    ),
    "withdraw": (
        lambda user, t, reason: transfer_services.withdraw_transfer(actor=user, transfer_id=t, reason=reason),
        "Withdrawn.",
    ),
}


@login_required
@require_POST
def transfer_action(request, transfer_id: int, action: str):
    if action not in ACTIONS:
        raise Http404
    transfer = _transfer_or_404(request.user, transfer_id)
    call, done = ACTIONS[action]
    try:
        call(request.user, transfer.pk, request.POST.get("reason", "")[:2000])
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("warehouses:transfers")


@login_required
def lease_review(request, lease_id: int):
    lease = _lease_or_404(request.user, lease_id)
    mine = subject_ids_acted_for(user=request.user)
    side = _review_side(lease=lease, mine=mine)
    form = ReviewForm(request.POST if request.method == "POST" else None)
    reviewed = submit(
        request,
        form,
        lambda data: review_services.review_lease(
            actor=request.user, lease_id=lease.pk, stars=data["stars"], comment=data["comment"], reviewer_id=side
        ),
        success="Thank you: your rating is recorded.",
        redirect_to=reverse("warehouses:lease", args=[lease.pk]),
    )
    if reviewed is not None:
        return reviewed
    cannot_review = None
    if side is None and not form.errors:  # an unbound form cannot take add_error(): say it beside the form
        cannot_review = "This lease cannot be reviewed by you now (not completed, already reviewed or too late)."
    return render(
        request,
        "warehouses/lease_review.html",
        {"lease": lease, "form": form, "cannot_review": cannot_review},
        status=400 if form.errors or (cannot_review and form.is_bound) else 200,
    )


def rating_context(*, listing) -> dict:
    """Aggregated ratings the operator received: overall and on this listing."""
    return {
        "operator_rating": selectors.rating_summary(subject_id=listing.warehouse.owner_id),
        "listing_rating": selectors.listing_rating_summary(listing_id=listing.pk),
    }


def operator_ratings(*, user) -> list[tuple]:
    """(owner subject, {count, average}) for each subject whose warehouses the user runs."""
    owners = {w.owner_id: w.owner for w in selectors.warehouses_of(user=user)}
    return [(owner, selectors.rating_summary(subject_id=pk)) for pk, owner in sorted(owners.items())]
