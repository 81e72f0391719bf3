"""Escrow and dispute pages: the tenant pays a lease into escrow (choosing among the payment
institutions that can take it, with the reasons the others cannot), either party opens a
dispute, platform staff list open disputes and decide them."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from core import bidi
from core.errors import DomainError
from core.web import add_domain_error, submit, visible_or_404
from credit.selectors.accounts import subject_ids_acted_for
from payments import selectors as payment_selectors
from warehouses import selectors
from warehouses.errors import LeaseNotFound
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services


class PayForm(forms.Form):
    institution = forms.TypedChoiceField(coerce=int, label="Payment institution", widget=forms.RadioSelect)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].choices = [
            (o["institution_id"], bidi.isolate(o["name"])) for o in options if not o["problems"]
        ]


class DisputeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label="What is wrong")


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            ("payer", "In favour of the tenant: refund what remains"),
            ("payee", "In favour of the operator: release what remains"),
            ("split", "Split: release the amount below, refund the rest"),
        ],
        widget=forms.RadioSelect,
    )
    payee_amount = forms.DecimalField(
        required=False, min_value=0, decimal_places=2, max_digits=20, label="To the operator (split)"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, label="Reasons (both see them)")

    def clean(self):
        data = super().clean()
        if data.get("resolution") == "split" and data.get("payee_amount") is None:
            self.add_error("payee_amount", "Required for a split.")
        return data


def _lease_or_404(user, lease_id: int) -> Lease:
    return visible_or_404(selectors.get_lease, user=user, lease_id=lease_id)


def attach_escrow_status(leases) -> list[Lease]:
    """The leases of a page, each with `escrow_status` (one batch of queries per page)."""
    leases = list(leases)
    summaries = payment_selectors.escrow_summaries(references=[lease.escrow_ref for lease in leases])
    for lease in leases:
        lease.escrow_status = summaries[lease.escrow_ref]["status"]
    return leases


def escrow_context(*, lease: Lease, mine: set[int]) -> dict:
    """What the lease page shows about the money: summary, ledger entries, disputes."""
    summary = payment_selectors.escrow_summary(reference=lease.escrow_ref)
    disputes = list(payment_selectors.disputes_for(references=[lease.escrow_ref]))
    party = lease.tenant_id in mine or lease.listing.warehouse.owner_id in mine
    completed_recently = (
        lease.status == Lease.Status.COMPLETED
        and lease.completed_at is not None
        and (timezone.now() - lease.completed_at).days < escrow_services.dispute_window_days()
    )
    can_pay = lease.tenant_id in mine and not summary["funded"] and lease.status in escrow_services.LIVE
    options = (
        payment_selectors.payment_options(currency=lease.currency, country=lease.listing.warehouse.country)
        if can_pay
        else []
    )
    return {
        "escrow": summary,
        "escrow_due": escrow_services.amount_due(lease=lease) if not summary["funded"] else None,
        "can_pay": can_pay,
        "pay_form": PayForm(options=options) if can_pay else None,
        "pay_options": options,
        "disputes": disputes,
        "can_dispute": party
        and summary["funded"]
        and not summary["open_dispute"]
        and (lease.status in escrow_services.LIVE or completed_recently),
    }


@login_required
def lease_pay(request, lease_id: int):
    lease = _lease_or_404(request.user, lease_id)
    if lease.tenant_id not in subject_ids_acted_for(user=request.user):
        raise Http404
    options = payment_selectors.payment_options(currency=lease.currency, country=lease.listing.warehouse.country)
    form = PayForm(request.POST if request.method == "POST" else None, options=options)
    if request.method == "POST" and form.is_valid():
        try:
            escrow_services.pay_lease(
                actor=request.user, lease_id=lease.pk, institution_id=form.cleaned_data["institution"]
            )
        except LeaseNotFound:
            raise Http404 from None
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Paid into escrow: the operator is paid in stages from check-in.")
            return redirect("warehouses:lease", lease_id=lease.pk)
    summary = payment_selectors.escrow_summary(reference=lease.escrow_ref)
    return render(
        request,
        "warehouses/lease_pay.html",
        {
            "lease": lease,
            "form": form,
            "options": options,
            "escrow": summary,
            "amount": escrow_services.amount_due(lease=lease),
        },
        status=400 if form.errors else 200,
    )


@login_required
def lease_dispute(request, lease_id: int):
    lease = _lease_or_404(request.user, lease_id)
    form = DisputeForm(request.POST if request.method == "POST" else None)
    opened = submit(
        request,
        form,
        lambda data: escrow_services.open_lease_dispute(actor=request.user, lease_id=lease.pk, reason=data["reason"]),
        success="Dispute opened: the escrow is frozen until platform staff decide.",
        redirect_to=reverse("warehouses:lease", args=[lease.pk]),
    )
    if opened is not None:
        return opened
    return render(
        request,
        "warehouses/form.html",
        {"form": form, "title": f"Open a dispute about lease {lease.pk}"},
        status=400 if form.errors else 200,
    )


@login_required
def disputes(request):
    """Staff: every open dispute with a resolve form. Parties: the disputes about their leases."""
    status = request.GET.get("status") if request.GET.get("status") in ("open", "resolved") else "open"
    rows = list(selectors.disputes_visible_to(user=request.user).filter(status=status)[:200])
    summaries = payment_selectors.escrow_summaries(references=[d.reference for d in rows])
    return render(
        request,
        "warehouses/disputes.html",
        {
            "rows": [(d, summaries[d.reference], ResolveForm(prefix=f"d{d.pk}")) for d in rows],
            "status": status,
            "is_staff": request.user.is_staff,
        },
    )


@login_required
def dispute_detail(request, dispute_id: int):
    dispute = visible_or_404(selectors.get_dispute, user=request.user, dispute_id=dispute_id)
    form = ResolveForm(request.POST if request.method == "POST" else None, prefix=f"d{dispute.pk}")
    if request.method == "POST":
        if not request.user.is_staff:
            raise Http404
        decided = submit(
            request,
            form,
            lambda data: escrow_services.resolve_lease_dispute(
                actor=request.user,
                dispute_id=dispute.pk,
                resolution=data["resolution"],
                payee_amount=data.get("payee_amount"),
                reason=data["reason"],
            ),
            success=f"Dispute {dispute.pk} decided.",
            redirect_to="warehouses:disputes",
        )
        if decided is not None:
            return decided
    return render(
        request,
        "warehouses/dispute_detail.html",
        {
            "dispute": dispute,
            "escrow": payment_selectors.escrow_summary(reference=dispute.reference),
            "form": form,
            "is_staff": request.user.is_staff,
        },
        status=400 if form.errors else 200,
    )
