"""Each hand-written statement of payments.hotpath returns or stores what the equivalent
ORM query does, on data that makes a difference visible (revoked and expired keys, an
institution suspended or not registered, one number in two countries, blacklisted and
unrated subjects, decisions with and without subjects and candidates), and one screening
sends no more statements than before."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import rows
from credit.models import Subject
from payments import hotpath, services
from payments.api import authentication
from payments.models import APICallRecord, InstitutionProfile, ProviderAPIKey, ScreeningDecision
from payments.services import screening
from tests.factories import RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db
SCREEN = "/api/v1/screenings/"


def values(obj, model) -> list:
    return [getattr(obj, f.attname) for f in rows.fields(model)]


def orm_key_and_profile(prefix: str):
    key = ProviderAPIKey.objects.filter(prefix=prefix, revoked=False).first()
    if key is None:
        return None
    profile = InstitutionProfile.objects.filter(pk=key.institution_id).first()
    return values(key, ProviderAPIKey), values(profile, InstitutionProfile) if profile is not None else None


# --- The API key and its institution ---------------------------------------------------------


def test_a_key_and_its_compliant_institution_are_the_orm_rows(compliant_institution, institution_key):
    ProviderAPIKey.objects.create_key(name="other", institution_id=compliant_institution.pk, scopes=["screen"])
    key = institution_key[0]
    ProviderAPIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    found = hotpath.key_and_profile(key.prefix)
    assert found == orm_key_and_profile(key.prefix)
    key_values, profile_values = found
    assert key_values[rows.fields(ProviderAPIKey).index(ProviderAPIKey._meta.pk)] == key.pk
    assert key_values[[f.name for f in rows.fields(ProviderAPIKey)].index("scopes")] == list(
        ProviderAPIKey.Scope.values
    )
    assert profile_values[[f.name for f in rows.fields(InstitutionProfile)].index("paid_in_capital")] == Decimal(
        "100000000.00"
    )


def test_a_suspended_institution_is_read_as_the_orm_reads_it(compliant_institution, institution_key):
    services.suspend_institution(actor=RegulatorFactory(), institution_id=compliant_institution.pk, reason="Shortfall")
    prefix = institution_key[0].prefix
    found = hotpath.key_and_profile(prefix)
    assert found == orm_key_and_profile(prefix)
    status = found[1][[f.name for f in rows.fields(InstitutionProfile)].index("status")]
    assert status == InstitutionProfile.Status.SUSPENDED


def test_an_institution_not_registered_has_no_profile():
    subject = SubjectFactory(is_payment_institution=True)
    key, _ = ProviderAPIKey.objects.create_key(name="early", institution_id=subject.pk, scopes=["screen"])
    found = hotpath.key_and_profile(key.prefix)
    assert found == orm_key_and_profile(key.prefix)
    assert found[1] is None


def test_an_expired_key_is_still_found_its_expiry_is_the_callers_to_check(compliant_institution):
    key, _ = ProviderAPIKey.objects.create_key(
        name="old",
        institution_id=compliant_institution.pk,
        scopes=["screen"],
        expiry_date=timezone.now() - timedelta(days=1),
    )
    found = hotpath.key_and_profile(key.prefix)
    assert found is not None and found == orm_key_and_profile(key.prefix)
    assert authentication.key_with_institution(key.prefix).has_expired


def test_a_revoked_key_and_an_unknown_prefix_are_none(compliant_institution, institution_key):
    key = institution_key[0]
    services.revoke_api_key(actor=compliant_institution.manager, prefix=key.prefix)
    assert hotpath.key_and_profile(key.prefix) is None is orm_key_and_profile(key.prefix)
    assert hotpath.key_and_profile("nosuch") is None is orm_key_and_profile("nosuch")
    assert hotpath.key_and_profile("") is None


# --- Subjects by registration number ---------------------------------------------------------


def test_subjects_by_registration_are_the_orm_rows_with_the_rest_deferred():
    rated = timezone.now() - timedelta(days=3)
    SubjectFactory(country="DE", registration_number="HRB-1", grade="A", score=Decimal("81.25"), rated_at=rated)
    SubjectFactory(country="FR", registration_number="HRB-1", grade="D", score=Decimal("12.00"), rated_at=rated)
    SubjectFactory(country="CN", registration_number="91310000X", grade="C", is_blacklisted=True, rated_at=rated)
    SubjectFactory(country="CN", registration_number="UNRATED-1")  # no grade, score or rating time
    SubjectFactory(country="CN", registration_number="NOT-ASKED")
    numbers = {"HRB-1", "91310000X", "UNRATED-1", "MISSING-1"}
    found = hotpath.subjects_by_registration(numbers)
    orm = {
        (s.country, s.registration_number): s
        for s in Subject.objects.filter(registration_number__in=numbers).only(*hotpath.SUBJECT_FIELDS)
    }
    assert set(found) == set(orm) == {("DE", "HRB-1"), ("FR", "HRB-1"), ("CN", "91310000X"), ("CN", "UNRATED-1")}
    loaded = [f.attname for f in hotpath.subject_fields()]
    for where, subject in found.items():
        assert subject.get_deferred_fields() == orm[where].get_deferred_fields()
        assert [getattr(subject, a) for a in loaded] == [getattr(orm[where], a) for a in loaded]
    assert found[("CN", "91310000X")].is_blacklisted is True
    assert found[("CN", "UNRATED-1")].score is None and found[("CN", "UNRATED-1")].rated_at is None
    assert hotpath.subjects_by_registration({"MISSING-1"}) == {}


# --- Storing decisions ------------------------------------------------------------------------


@pytest.fixture
def decisions(compliant_institution, institution_key):
    """A realistic batch: allowed, denied (blacklisted), unknown, and a name with candidates."""
    SubjectFactory(country="DE", registration_number="HRB-1", legal_name="Good Gmbh", grade="A")
    SubjectFactory(country="CN", registration_number="BAD-1", legal_name="Bad Ltd", grade="B", is_blacklisted=True)
    items = [
        {"registration_number": "HRB-1", "country": "DE", "reference": "inv-1"},
        {"registration_number": "BAD-1", "country": "CN"},
        {"registration_number": "NONE-1", "country": "CN"},
        {"name": "Good Gmbh"},
    ]

    def make(count=len(items)):
        batch = (items * count)[:count]
        return screening.decide(api_key=institution_key[0], institution=compliant_institution, items=batch)[1]

    return make


def call_record(key) -> dict:
    return {
        "at": timezone.now(),
        "api_key_prefix": key.prefix,
        "institution_id": key.institution_id,
        "method": "POST",
        "path": SCREEN,
        "status_code": 200,
        "decision": "allow=1 review=2 deny=1",
        "duration_ms": 3,
    }


def stored(batch_id) -> list[dict]:
    return list(ScreeningDecision.objects.filter(batch_id=batch_id).order_by("position").values())


def without_ids(found: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "id"} for row in found]


def record_values(pk) -> dict:
    return {k: v for k, v in APICallRecord.objects.filter(pk=pk).values().get().items() if k != "id"}


def orm_store(decisions, record):
    """What the ORM stores for the same decisions and call record (rolled back)."""
    with transaction.atomic():
        ScreeningDecision.objects.bulk_create(
            ScreeningDecision(**{c: getattr(d, c) for c in hotpath.DECISION_COLUMNS}) for d in decisions
        )
        found = without_ids(stored(decisions[0].batch_id))
        record_row = record_values(APICallRecord.objects.create(**record).pk) if record is not None else None
        transaction.set_rollback(True)
    return found, record_row


@pytest.mark.parametrize("with_record", [True, False])
def test_insert_decisions_stores_what_the_orm_would(decisions, institution_key, with_record):
    batch = decisions()
    assert {d.decision for d in batch} == {"allow", "deny", "review"} and any(d.candidates for d in batch)
    record = call_record(institution_key[0]) if with_record else None
    orm_rows, orm_record = orm_store(batch, record)
    ids, record_id = hotpath.insert_decisions(batch, record)
    found = stored(batch[0].batch_id)
    assert ids == [row["id"] for row in found]  # in the order given
    assert without_ids(found) == orm_rows and len(orm_rows) == 4
    if with_record:
        assert record_values(record_id) == orm_record
    else:
        assert record_id is None and not APICallRecord.objects.exists()


def test_copy_decisions_stores_what_the_orm_would(decisions):
    batch = decisions(25)
    orm_rows, _ = orm_store(batch, None)
    with transaction.atomic():
        hotpath.copy_decisions(batch)
    assert without_ids(stored(batch[0].batch_id)) == orm_rows and len(orm_rows) == 25


def test_store_gives_every_decision_its_id_and_a_batch_its_call_record(decisions, institution_key):
    for size in (3, 25):
        batch = decisions(size)
        record = call_record(institution_key[0])
        record_id = screening.store(batch, call_record=record)
        found = stored(batch[0].batch_id)
        assert [d.id for d in batch] == [row["id"] for row in found]
        assert record_values(record_id) == record


# --- The screening path sends no more statements -----------------------------------------------


def statements(queries) -> list[str]:
    """The statements sent, by their first words, without the test's savepoints."""
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    return [" ".join(sql.split()[:2]) for sql in sent]


@pytest.mark.parametrize("key_cache_seconds", [0, 2])
def test_a_screening_is_the_key_read_the_subject_read_and_one_insert(
    client_for, institution_key, monkeypatch, settings, key_cache_seconds
):
    monkeypatch.setitem(settings.ENTREPOT["PAYMENTS"], "API_KEY_CACHE_SECONDS", key_cache_seconds)
    authentication._recent.clear()
    SubjectFactory(country="DE", registration_number="HRB-1", legal_name="Good Gmbh", grade="A")
    api = client_for(institution_key[1])
    body = {"registration_number": "HRB-1", "country": "DE"}
    assert api.post(SCREEN, body, format="json").status_code == 200  # last_used_at written, key cached
    with CaptureQueriesContext(connection) as queries:
        response = api.post(SCREEN, body, format="json")
    authentication._recent.clear()
    assert response.status_code == 200 and response.json()["summary"] == {"allow": 1, "review": 0, "deny": 0}
    key_read = ['SELECT k."id",'] if key_cache_seconds == 0 else []
    assert statements(queries) == [*key_read, 'SELECT "id",', "WITH d"]


def test_a_batch_is_the_key_read_the_subject_read_copy_the_call_record_and_the_ids(client_for, institution_key):
    SubjectFactory(country="DE", registration_number="HRB-1", legal_name="Good Gmbh", grade="A")
    api = client_for(institution_key[1])
    body = {"items": [{"registration_number": "HRB-1", "country": "DE"}] * 25}
    assert api.post(SCREEN, body, format="json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = api.post(SCREEN, body, format="json")
    assert response.status_code == 200 and response.json()["count"] == 25
    # COPY goes through psycopg directly and is not captured.
    assert statements(queries) == [
        'SELECT k."id",',
        'SELECT "id",',
        "INSERT INTO",
        'SELECT "payments_screeningdecision"."position"',
    ]
    assert ScreeningDecision.objects.filter(batch_id=uuid.UUID(response.json()["batch_id"])).count() == 25
