"""Ending what an institution filed: withdraw a licence, switch a corridor off, close (or
remove) a reserve account. History stays, each change is audited and asks for a compliance
check after commit; the web pages and the API do the same."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import ProtectedError
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.models import AuditEntry
from credit.models import Membership
from payments import errors, services
from payments.models import Corridor, InstitutionProfile, Licence, ProviderAPIKey, ReserveAccount, ReserveReport
from payments.services import filings
from tests.factories import MembershipFactory
from tests.payments.conftest import make_compliant_institution

pytestmark = pytest.mark.django_db


def _refresh(profile) -> InstitutionProfile:
    return InstitutionProfile.objects.get(pk=profile.pk)


def test_withdrawn_licence_is_kept_audited_and_the_check_after_commit_suspends(
    compliant_institution, django_capture_on_commit_callbacks
):
    p = compliant_institution
    licence = p.licences.get()
    with (
        mock.patch("payments.services.common.outbox.publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        filings.withdraw_licence(actor=p.manager, institution_id=p.pk, licence_id=licence.pk, reason="Surrendered")
    # The check is asked for after commit, with the licence trigger (and durably marked).
    [call] = publish.call_args_list
    assert call.kwargs["args"] == [p.pk, "licence_changed"]
    assert _refresh(p).check_requested_trigger == "licence_changed"
    licence.refresh_from_db()
    assert licence.withdrawn_at is not None and licence.withdrawn_reason == "Surrendered"
    entry = AuditEntry.objects.get(action="institution.licence_withdrawn")
    assert (entry.target_id, entry.reason, entry.new["number"]) == (str(licence.pk), "Surrendered", licence.number)

    run = services.run_compliance_check(institution_id=p.pk, trigger="licence_changed")
    results = {r.rule: r.outcome for r in run.results.all()}
    assert results["licence_valid"] == "fail"
    assert _refresh(p).status == "suspended"
    assert not Corridor.objects.get(institution=p).enabled  # no licence covers it any more

    # Repeating changes nothing; a withdrawn licence cannot be edited.
    filings.withdraw_licence(actor=p.manager, institution_id=p.pk, licence_id=licence.pk)
    assert AuditEntry.objects.filter(action="institution.licence_withdrawn").count() == 1
    with pytest.raises(InvalidInput) as exc:
        services.save_licence(
            actor=p.manager,
            institution_id=p.pk,
            licence_id=licence.pk,
            number=licence.number,
            issuing_authority="x",
            valid_from=licence.valid_from,
            valid_to=licence.valid_to,
            currencies=["CNY"],
            countries=["CN"],
        )
    assert exc.value.code == "licence_withdrawn"


def test_withdrawn_corridor_stays_off_until_requested_again(compliant_institution):
    p = compliant_institution
    corridor = Corridor.objects.get(institution=p)
    assert corridor.enabled
    filings.withdraw_corridor(actor=p.manager, institution_id=p.pk, corridor_id=corridor.pk, reason="No volume")
    corridor.refresh_from_db()
    assert (corridor.enabled, corridor.withdrawn_reason) == (False, "No volume")
    assert _refresh(p).check_requested_trigger == "corridor_changed"
    services.run_compliance_check(institution_id=p.pk, trigger="corridor_changed")
    corridor.refresh_from_db()
    assert not corridor.enabled  # the licence still covers it, but the institution switched it off
    assert _refresh(p).status == "compliant"  # the institution itself is unaffected
    assert AuditEntry.objects.filter(action="institution.corridor_withdrawn", target_id=str(corridor.pk)).exists()

    services.add_corridor(actor=p.manager, institution_id=p.pk, currency="CNY", country="CN")
    corridor.refresh_from_db()
    assert corridor.withdrawn_at is None and not corridor.enabled
    services.run_compliance_check(institution_id=p.pk, trigger="corridor_changed")
    corridor.refresh_from_db()
    assert corridor.enabled


def test_reserve_account_named_by_a_report_is_closed_not_deleted(compliant_institution):
    p = compliant_institution
    account = p.reserve_account
    report_date = ReserveReport.objects.get(institution=p).report_date
    with pytest.raises(ProtectedError):  # the database refuses to lose what a report refers to
        ReserveAccount.objects.filter(pk=account.pk).delete()
    with pytest.raises(InvalidInput) as exc:  # a report after that day still gives its balance
        filings.close_reserve_account(
            actor=p.manager, institution_id=p.pk, account_id=account.pk, closed_on=report_date - timedelta(days=1)
        )
    assert "closed_on" in exc.value.field_errors
    with pytest.raises(InvalidInput):
        filings.close_reserve_account(
            actor=p.manager,
            institution_id=p.pk,
            account_id=account.pk,
            closed_on=timezone.localdate() + timedelta(days=1),
        )
    closed = filings.close_reserve_account(
        actor=p.manager, institution_id=p.pk, account_id=account.pk, closed_on=report_date, reason="Moved bank"
    )
    assert closed.closed_on == report_date and ReserveAccount.objects.filter(pk=account.pk).exists()
    assert _refresh(p).check_requested_trigger == "reserve_account"
    entry = AuditEntry.objects.get(action="institution.reserve_account_closed")
    assert entry.new["closed_on"] == report_date.isoformat() and entry.reason == "Moved bank"
    if report_date < timezone.localdate():
        with pytest.raises(InvalidInput) as exc:
            services.submit_reserve_report(
                actor=p.manager,
                institution_id=p.pk,
                report_date=timezone.localdate(),
                currency="CNY",
                customer_funds_owed=Decimal(1),
                balances={account.pk: Decimal(1)},
            )
        assert "closed on" in exc.value.field_errors["balances"][0]


def test_unused_reserve_account_is_removed_with_its_audit_kept(compliant_institution):
    p = compliant_institution
    spare = services.add_reserve_account(
        actor=p.manager, institution_id=p.pk, bank="ICBC", account_reference="SPARE-1", currency="CNY"
    )
    assert filings.close_reserve_account(actor=p.manager, institution_id=p.pk, account_id=spare.pk) is None
    assert not ReserveAccount.objects.filter(pk=spare.pk).exists()
    entry = AuditEntry.objects.get(action="institution.reserve_account_removed")
    assert entry.old["account_reference"] == "SPARE-1"


def test_only_the_institutions_own_managers_end_its_filings(compliant_institution):
    p = compliant_institution
    other = make_compliant_institution()
    licence = p.licences.get()
    with pytest.raises(errors.NotAnInstitution):
        filings.withdraw_licence(actor=other.manager, institution_id=p.pk, licence_id=licence.pk)
    plain = MembershipFactory(subject=p.subject, role=Membership.Role.MEMBER).user
    with pytest.raises(errors.NotAnInstitution):
        filings.withdraw_corridor(actor=plain, institution_id=p.pk, corridor_id=p.corridors.get().pk)
    with pytest.raises(NotFound):  # another institution's licence id, through its own profile
        filings.withdraw_licence(actor=other.manager, institution_id=other.pk, licence_id=licence.pk)
    assert Licence.objects.get(pk=licence.pk).withdrawn_at is None


def test_web_withdraw_and_close_with_errors_beside_the_field(client, compliant_institution):
    p = compliant_institution
    licence, corridor, account = p.licences.get(), p.corridors.get(), p.reserve_account
    client.force_login(p.manager)
    page = client.get(f"/institution/{p.pk}/")
    assert f"/institution/{p.pk}/licences/{licence.pk}/withdraw/" in page.content.decode()
    assert client.get(f"/institution/{p.pk}/licences/{licence.pk}/withdraw/").status_code == 200
    response = client.post(f"/institution/{p.pk}/licences/{licence.pk}/withdraw/", {"reason": "Surrendered"})
    assert response.status_code == 302
    assert "withdrawn" in client.get(f"/institution/{p.pk}/").content.decode()
    assert client.post(f"/institution/{p.pk}/corridors/{corridor.pk}/withdraw/", {}).status_code == 302
    assert Corridor.objects.get(pk=corridor.pk).withdrawn_at is not None

    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    bad = client.post(f"/institution/{p.pk}/reserve-accounts/{account.pk}/close/", {"closed_on": future})
    assert bad.status_code == 400
    assert 'id="id_closed_on-error"' in bad.content.decode()
    ok = client.post(f"/institution/{p.pk}/reserve-accounts/{account.pk}/close/", {})
    assert ok.status_code == 302
    assert ReserveAccount.objects.get(pk=account.pk).closed_on == timezone.localdate()

    plain = MembershipFactory(subject=p.subject, role=Membership.Role.MEMBER).user
    client.force_login(plain)
    other_licence = services.save_licence(
        actor=p.manager,
        institution_id=p.pk,
        number="L-2",
        issuing_authority="PBoC",
        valid_from=timezone.localdate(),
        valid_to=timezone.localdate() + timedelta(days=30),
        currencies=["CNY"],
        countries=["CN"],
    )
    assert client.post(f"/institution/{p.pk}/licences/{other_licence.pk}/withdraw/", {}).status_code == 302
    assert Licence.objects.get(pk=other_licence.pk).withdrawn_at is None


def test_web_end_pages_of_already_ended_filings_say_so_instead_of_asking_again(client, compliant_institution):
    p = compliant_institution
    licence, corridor = p.licences.get(), p.corridors.get()
    client.force_login(p.manager)
    for url in (
        f"/institution/{p.pk}/licences/{licence.pk}/withdraw/",
        f"/institution/{p.pk}/corridors/{corridor.pk}/withdraw/",
    ):
        assert client.post(url, {"reason": "Surrendered"}).status_code == 302
    licence_page = client.get(f"/institution/{p.pk}/licences/{licence.pk}/withdraw/", follow=True)
    assert licence_page.redirect_chain[-1][0] == f"/institution/{p.pk}/#licences"
    assert f"Licence {licence.number} was already withdrawn on" in licence_page.content.decode()
    corridor_page = client.get(f"/institution/{p.pk}/corridors/{corridor.pk}/withdraw/", follow=True)
    assert "was already switched off on" in corridor_page.content.decode()
    assert AuditEntry.objects.filter(action="institution.licence_withdrawn").count() == 1


def test_api_withdraws_and_closes_for_the_keys_institution_only(compliant_institution, client_for):
    p = compliant_institution
    _, secret = ProviderAPIKey.objects.create_key(name="f", institution_id=p.pk, scopes=["filings", "reserves"])
    api = client_for(secret)
    licence, corridor = p.licences.get(), p.corridors.get()
    listed = api.get("/api/v1/licences/").json()
    assert [(item["id"], item["withdrawn_at"]) for item in listed] == [(licence.pk, None)]
    response = api.post(f"/api/v1/licences/{licence.pk}/withdraw/", {"reason": "Lapsed"}, format="json")
    assert response.status_code == 200 and response.json()["withdrawn_reason"] == "Lapsed"
    response = api.post(f"/api/v1/corridors/{corridor.pk}/withdraw/", {}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False

    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    bad = api.post(f"/api/v1/reserve-accounts/{p.reserve_account.pk}/close/", {"closed_on": future}, format="json")
    assert bad.status_code == 400 and "closed_on" in bad.json()["errors"]
    closed = api.post(f"/api/v1/reserve-accounts/{p.reserve_account.pk}/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["closed_on"] == timezone.localdate().isoformat()
    spare = services.add_reserve_account(
        actor=p.manager, institution_id=p.pk, bank="ICBC", account_reference="SPARE-2", currency="CNY"
    )
    assert api.post(f"/api/v1/reserve-accounts/{spare.pk}/close/", {}, format="json").status_code == 204

    other = make_compliant_institution()
    foreign = other.licences.get()
    assert api.post(f"/api/v1/licences/{foreign.pk}/withdraw/", {}, format="json").status_code == 404
    assert Licence.objects.get(pk=foreign.pk).withdrawn_at is None
