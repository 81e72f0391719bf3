"""The regulator console and the subject's own record pages, through Django's test client."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from core.models import AuditEntry
from credit.models import Appeal, BlacklistEntry, CreditEvent, RecomputeRun
from credit.services import blacklist as services
from tests.credit.blacklist_helpers import WEDNESDAY, at_date, make_entry, set_now
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

CONSOLE_PAGES = [
    "/regulator/",
    "/regulator/blacklist/",
    "/regulator/blacklist/new/",
    "/regulator/appeals/",
    "/regulator/repairs/",
    "/regulator/events/new/",
    "/regulator/recompute/",
    "/regulator/audit/",
]


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_console_is_for_regulators_only(client, url, member, staff_user, regulator):
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    for outsider in (member, staff_user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(regulator)
    assert client.get(url).status_code == 200


def test_entry_detail_and_queue_items_are_hidden_from_non_regulators(client, member, regulator):
    entry = make_entry(regulator, member.subject, severity="minor")
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    client.force_login(member)
    for url in (f"/regulator/blacklist/{entry.pk}/", f"/regulator/appeals/{appeal.pk}/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/regulator/blacklist/{entry.pk}/lift/", {"reason": "self-service"}).status_code == 404
    entry.refresh_from_db()
    assert entry.status == "active"


def test_create_entry_form_shows_errors_beside_fields_then_creates(client, regulator):
    subject = SubjectFactory(country="CN", registration_number="91440300MA5F0001", legal_name="Haimao Ltd")
    client.force_login(regulator)
    bad = client.post(
        "/regulator/blacklist/new/",
        {
            "country": "CN",
            "registration_number": "91440300MA5F0001",
            "category": "fraud",
            "severity": "serious",
            "legal_basis": "Art. 5",
            "decision_reference": "SZ-1",
            "description": "Fake invoices.",
            "fine_amount": "1000",
            "fine_currency": "XXQ",
        },
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'id="id_fine_currency-error"' in html and "ISO 4217" in html
    assert not BlacklistEntry.objects.exists()

    unknown = client.post("/regulator/blacklist/new/", {"subject_id": 99999, "category": "fraud"})
    assert unknown.status_code == 400 and "No subject with id 99999" in unknown.content.decode()

    good = client.post(
        "/regulator/blacklist/new/",
        {
            "country": "CN",
            "registration_number": "91440300ma5f0001",
            "category": "fraud",
            "severity": "serious",
            "legal_basis": "Art. 5",
            "decision_reference": "SZ-1",
            "description": "Fake invoices.",
            "fine_amount": "1000",
            "fine_currency": "CNY",
        },
    )
    entry = BlacklistEntry.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/regulator/blacklist/{entry.pk}/"
    assert entry.subject == subject and entry.decided_by == regulator
    page = client.get(good["Location"]).content.decode()
    assert "SZ-1" in page and "Haimao Ltd" in page and "1000.00 CNY" in page

    duplicate = client.post(
        "/regulator/blacklist/new/",
        {
            "subject_id": subject.pk,
            "category": "fraud",
            "severity": "serious",
            "legal_basis": "Art. 5",
            "decision_reference": "SZ-1",
            "description": "Again.",
        },
    )
    assert duplicate.status_code == 400
    assert 'id="id_decision_reference-error"' in duplicate.content.decode()
    assert BlacklistEntry.objects.count() == 1


def test_list_filters_paginates_and_exports_csv(client, regulator):
    client.force_login(regulator)
    cn = SubjectFactory(country="CN", legal_name="Dragon Export Co")
    de = SubjectFactory(country="DE", legal_name="Rhein Handel GmbH")
    make_entry(regulator, cn, severity="serious", decision_reference="CN-1")
    lifted = make_entry(regulator, de, severity="minor", decision_reference="DE-1")
    services.lift_blacklist_entry(actor=regulator, entry_id=lifted.pk, reason="Annulled")
    for n in range(30):
        make_entry(regulator, SubjectFactory(country="FR"), severity="minor", decision_reference=f"FR-{n}")

    page = client.get("/regulator/blacklist/", {"country": "cn"}).content.decode()
    assert "Dragon Export Co" in page and "Rhein Handel" not in page
    page = client.get("/regulator/blacklist/", {"status": "lifted"}).content.decode()
    assert "Rhein Handel" in page and "Dragon Export" not in page
    first = client.get("/regulator/blacklist/").content.decode()
    assert "Page 1 of 2" in first and "32 in all" in first
    assert "Page 2 of 2" in client.get("/regulator/blacklist/", {"page": 2}).content.decode()

    export = client.get("/regulator/blacklist/", {"format": "csv", "status": "active", "severity": "serious"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [r["decision_reference"] for r in rows] == ["CN-1"]
    assert rows[0]["legal_name"] == "Dragon Export Co" and rows[0]["status"] == "active"


def test_lift_form_needs_a_reason(client, regulator):
    entry = make_entry(regulator, SubjectFactory(), severity="minor")
    client.force_login(regulator)
    missing = client.post(f"/regulator/blacklist/{entry.pk}/lift/", {"reason": ""})
    assert missing.status_code == 400 and 'id="id_reason-error"' in missing.content.decode()
    done = client.post(f"/regulator/blacklist/{entry.pk}/lift/", {"reason": "Decision annulled."})
    assert done.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "lifted" and entry.status_reason == "Decision annulled."
    page = client.get(f"/regulator/blacklist/{entry.pk}/").content.decode()
    assert "blacklist.entry_lifted" in page and "Decision annulled." in page


def test_appeal_queue_flags_overdue_and_forms_reply_then_decide(client, regulator, member, time_machine):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, member.subject, severity="general")
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="Wrong company.")
    client.force_login(regulator)

    on_time = client.get("/regulator/appeals/").content.decode()
    assert "Reply due 2026-12-02" in on_time and 'data-testid="overdue"' not in on_time
    set_now(time_machine, at_date(dt.date(2026, 12, 3)))
    client.force_login(regulator)  # a fresh session at the new time
    late = client.get("/regulator/appeals/").content.decode()
    assert 'data-testid="overdue"' in late
    assert "1 overdue" in client.get("/regulator/").content.decode()

    url = f"/regulator/appeals/{appeal.pk}/"
    assert client.post(url, {"step": "decide", "outcome": "uphold", "reasons": "x"}).status_code == 400
    assert client.post(url, {"step": "reply", "reply": ""}).status_code == 400
    assert client.post(url, {"step": "reply", "reply": "Checking."}).status_code == 302
    page = client.get(url).content.decode()
    assert "Decision due 2026-12-08" in page
    assert client.post(url, {"step": "decide", "outcome": "uphold", "reasons": "Mistaken identity."}).status_code == 302
    appeal.refresh_from_db()
    entry.refresh_from_db()
    assert appeal.status == Appeal.Status.UPHELD and entry.status == "lifted"
    assert "Mistaken identity." in client.get(url).content.decode()


def test_period_appeal_decision_form_requires_the_new_end(client, regulator, member):
    entry = make_entry(regulator, member.subject, severity="general")
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="period", grounds="Too long.")
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    client.force_login(regulator)
    url = f"/regulator/appeals/{appeal.pk}/"
    missing = client.post(url, {"step": "decide", "outcome": "uphold", "reasons": "Proportionate."})
    assert missing.status_code == 400 and 'id="id_new_publication_ends_on-error"' in missing.content.decode()
    new_end = entry.starts_on + dt.timedelta(days=100)
    client.post(
        url, {"step": "decide", "outcome": "uphold", "reasons": "Ok.", "new_publication_ends_on": new_end.isoformat()}
    )
    entry.refresh_from_db()
    assert entry.publication_ends_on == new_end


def test_repair_queue_reply_and_approve(client, regulator, member):
    entry = make_entry(regulator, member.subject, severity="minor")
    repair = services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="e", commitment="c")
    client.force_login(regulator)
    assert f"/regulator/repairs/{repair.pk}/" in client.get("/regulator/repairs/").content.decode()
    url = f"/regulator/repairs/{repair.pk}/"
    client.post(url, {"step": "reply", "reply": "Received."})
    client.post(url, {"step": "decide", "outcome": "approve", "reasons": "Corrected."})
    entry.refresh_from_db()
    assert entry.status == "repaired"
    assert f"/regulator/repairs/{repair.pk}/" not in client.get("/regulator/repairs/").content.decode()
    assert f"/regulator/repairs/{repair.pk}/" in client.get("/regulator/repairs/?show=all").content.decode()


def test_event_form_records_a_credit_event(client, regulator):
    subject = SubjectFactory(country="GB", registration_number="SC-0001")
    client.force_login(regulator)
    missing = client.post("/regulator/events/new/", {"country": "GB", "registration_number": "SC-9999"})
    assert missing.status_code == 400 and "No subject registered in GB" in missing.content.decode()
    done = client.post(
        "/regulator/events/new/",
        {
            "country": "GB",
            "registration_number": "SC-0001",
            "kind": "customs_violation",
            "occurred_at": "2026-11-01T09:30",
            "magnitude": "1",
            "evidence_reference": "HMRC-CASE-42",
        },
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    event = CreditEvent.objects.get(subject=subject)
    assert event.kind_id == "customs_violation" and event.source == "regulator"
    assert event.evidence_reference == "HMRC-CASE-42" and event.recorded_by == regulator


def test_recompute_page_starts_a_run_and_polls_progress(client, regulator, django_capture_on_commit_callbacks):
    client.force_login(regulator)
    SubjectFactory()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/regulator/recompute/start/")
    assert response.status_code == 302
    run = RecomputeRun.objects.get()
    assert run.started_by == regulator
    page = client.get("/regulator/recompute/").content.decode()
    assert f'hx-get="/regulator/recompute/{run.pk}/progress/"' in page
    partial = client.get(f"/regulator/recompute/{run.pk}/progress/")
    assert partial.status_code == 200 and b"<progress" in partial.content
    assert client.get("/regulator/recompute/987654/progress/").status_code == 404


def test_audit_log_filters(client, regulator, member):
    entry = make_entry(regulator, member.subject, severity="minor")
    services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    client.force_login(regulator)
    page = client.get("/regulator/audit/", {"action": "appeal."}).content.decode()
    assert "appeal.filed" in page and "blacklist.entry_created" not in page
    page = client.get("/regulator/audit/", {"actor": regulator.username}).content.decode()
    assert "blacklist.entry_created" in page and "appeal.filed" not in page
    today = timezone.localdate()
    page = client.get("/regulator/audit/", {"until": (today - dt.timedelta(days=1)).isoformat()}).content.decode()
    assert "No audit entries." in page
    assert AuditEntry.objects.count() >= 2


# --- The subject's own record ---------------------------------------------------------------------


def test_record_is_private_to_members(client, member, other_member, regulator, staff_user):
    url = f"/account/record/{member.subject.pk}/"
    assert client.get(url).status_code == 302
    for outsider in (other_member, regulator, staff_user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    assert client.get("/account/record/999999/").status_code == 404
    client.force_login(member)
    assert client.get("/account/record/")["Location"] == url
    assert client.get(url).status_code == 200


def test_record_shows_everything_and_files_an_appeal(client, regulator, member):
    from credit.services.events import record_credit_event

    record_credit_event(
        actor=regulator,
        subject_id=member.subject.pk,
        kind="chargeback",
        source="regulator",
        occurred_at=timezone.now(),
        evidence_reference="PRIVATE-EVIDENCE-7",
    )
    entry = make_entry(regulator, member.subject, severity="general", decision_reference="SZ-9")
    client.force_login(member)
    page = client.get(f"/account/record/{member.subject.pk}/").content.decode()
    assert "PRIVATE-EVIDENCE-7" in page and "SZ-9" in page
    assert 'data-testid="repair-not-yet"' in page
    assert (entry.starts_on + dt.timedelta(days=90)).isoformat() in page
    assert 'data-testid="guidance"' in page

    bad = client.post(f"/account/record/entries/{entry.pk}/appeal/", {"challenge": "content", "grounds": ""})
    assert bad.status_code == 400 and 'id="id_grounds-error"' in bad.content.decode()
    ok = client.post(f"/account/record/entries/{entry.pk}/appeal/", {"challenge": "content", "grounds": "Not us."})
    assert ok.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.filed_by == member
    assert "Reply due" in client.get(f"/account/record/{member.subject.pk}/").content.decode()


def test_repair_form_shows_the_earliest_date_until_allowed(client, regulator, member, other_member, time_machine):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, member.subject, severity="general")
    client.force_login(other_member)
    assert client.get(f"/account/record/entries/{entry.pk}/repair/").status_code == 404
    client.force_login(member)
    early = client.get(f"/account/record/entries/{entry.pk}/repair/").content.decode()
    assert 'data-testid="repair-not-allowed"' in early and "2027-02-16" in early
    refused = client.post(
        f"/account/record/entries/{entry.pk}/repair/",
        {"correction_evidence": "e", "commitment": "c", "confirm": "on"},
    )
    assert refused.status_code == 400 and "2027-02-16" in refused.content.decode()

    set_now(time_machine, at_date(dt.date(2027, 2, 16)))
    client.force_login(member)  # a fresh session at the new time
    allowed = client.get(f"/account/record/entries/{entry.pk}/repair/").content.decode()
    assert "<form" in allowed and 'id="id_commitment"' in allowed
    done = client.post(
        f"/account/record/entries/{entry.pk}/repair/",
        {"correction_evidence": "Refunded.", "commitment": "Will comply.", "confirm": "on"},
    )
    assert done.status_code == 302
    assert entry.repairs.get().status == "filed"


def test_admin_shows_blacklist_history_read_only(client, staff_user, regulator, member):
    entry = make_entry(regulator, member.subject, severity="minor")
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    client.force_login(staff_user)
    listing = client.get("/admin/credit/blacklistentry/")
    assert listing.status_code == 200 and entry.decision_reference in listing.content.decode()
    change = client.get(f"/admin/credit/blacklistentry/{entry.pk}/change/").content.decode()
    assert 'name="legal_basis"' not in change, "fields are read-only"
    assert "deletelink" not in change
    assert client.get(f"/admin/credit/blacklistentry/{entry.pk}/delete/").status_code == 403
    assert client.get("/admin/credit/blacklistentry/add/").status_code == 403
    assert client.post(f"/admin/credit/appeal/{appeal.pk}/change/", {"status": "upheld"}).status_code == 403
    assert client.get("/admin/core/auditentry/").status_code == 200
    appeal.refresh_from_db()
    assert appeal.status == "filed"
