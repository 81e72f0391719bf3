"""Each hand-written statement of credit.hotpath returns what the equivalent ORM query
returns, on data that makes the difference visible (several scripts, typos, blacklisted,
lifted and expired entries, pending memberships), and the lock and SET LOCAL statements do
what they say: held or set until the transaction ends, seen by another connection.

The search columns (`search_words`, `search_bigrams`) are not model fields: the ORM side
computes them from the names with the migration's own functions (`entrepot_name_words`,
`entrepot_name_bigrams`), which also checks the trigger that fills them."""

import re
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Lower, StrIndex
from django.utils import timezone

from credit import hotpath
from credit.models import BlacklistEntry, Membership, RecomputeChunk, RecomputeRequest, Subject
from credit.services.ratings import full_run
from credit.services.ratings.locks import LOCK_BUCKET
from tests.credit.blacklist_helpers import make_entry
from tests.factories import MembershipFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db

NAMES = [
    ("CN", "91440300MA5FXXXX1A", "深圳市海贸跨境电子商务有限公司", "Haimao Cross-border"),
    ("CN", "91310000MA1KXXXX2B", "上海远洋仓储物流有限公司", ""),
    ("CN", "91440300MA5FYYYY3C", "深圳海贸物流有限公司", ""),
    ("US", "EIN-84-1234567", "Pacific Gateway Warehousing LLC", ""),
    ("GB", "SC123456", "Pacific Trading Ltd", ""),
    ("NL", "KVK-12345678", "Rotterdam Fulfilment B.V.", "RotterFul"),
    ("DE", "HRB-98765", "Frankfurt Cargo Lager GmbH", ""),
    ("AE", "DMCC-445566", "شركة دبي للتخزين والخدمات اللوجستية", ""),
    ("RU", "OGRN1027700132195", "ООО «Восток Логистика»", ""),
    ("FR", "RCS-552100554", "Zebra Holdings SARL", ""),
]


@pytest.fixture
def subjects():
    return [
        SubjectFactory(country=country, registration_number=number, legal_name=name, trading_name=trading)
        for country, number, name, trading in NAMES
    ]


def name():
    return Concat(F("legal_name"), Value(" "), F("trading_name"), output_field=TextField())


def name_words():
    return Func(name(), function="entrepot_name_words", output_field=ArrayField(TextField()))


def name_bigrams():
    return Func(name(), function="entrepot_name_bigrams", output_field=ArrayField(TextField()))


def orm_subjects():
    return Subject.objects.alias(words=name_words(), bigrams=name_bigrams())


def words_q(readings: list[list[str]]) -> Q:
    q = Q()
    for r in readings:
        q &= Q(words__overlap=r)
    return q


def ids(qs) -> list[int]:
    return sorted(qs.values_list("id", flat=True))


# --- Registry search ---------------------------------------------------------------------


def dictionary() -> set[str]:
    return {w for words in Subject.objects.annotate(w=name_words()).values_list("w", flat=True) for w in words}


def test_similar_words_reads_the_dictionary_the_names_make(subjects):
    words = dictionary()
    assert {"pacific", "frankfurt", "восток"} <= words
    found = hotpath.similar_words(
        ["pacifc", "pacific", "cargo", "zz"], ["frankfurt", "rfankfurt", "cagro"], fuzzy_known=False, limit=40
    )
    plain = {word: readings for is_swap, word, readings in found if not is_swap}
    swaps = [word for is_swap, word, _ in found if is_swap]
    assert plain["pacifc"][0] == "pacifc" and "pacific" in plain["pacifc"]
    assert set(plain["pacifc"][1:]) <= words
    assert plain["pacific"] is None and plain["cargo"] is None  # in the dictionary: as typed
    assert plain["zz"] == ["zz"]  # nothing similar
    assert swaps == [w for w in ["frankfurt", "rfankfurt", "cagro"] if w in words] == ["frankfurt"]
    fuzzy = hotpath.similar_words(["pacific"], [], fuzzy_known=True, limit=40)
    assert fuzzy[0][:2] == (False, "pacific") and fuzzy[0][2][0] == "pacific"
    assert hotpath.similar_words([], [], fuzzy_known=False, limit=40) == []


@pytest.mark.parametrize(
    "readings",
    [
        [["pacific"]],
        [["pacific"], ["trading"]],
        [["pacific"], ["zebra"]],
        [["pacifc", "pacific"], ["gateway", "gatway"]],
        [["восток"], ["логистика"]],
        [["nothing"]],
    ],
)
def test_words_exist_is_the_orm_overlap(subjects, readings):
    assert hotpath.words_exist(readings) is orm_subjects().filter(words_q(readings)).exists()


@pytest.mark.parametrize("bigrams", [["海贸", "深圳"], ["海贸", "贸物"], ["贸海"], ["远洋", "仓储", "有限"]])
def test_bigrams_exist_is_the_orm_containment(subjects, bigrams):
    assert hotpath.bigrams_exist(bigrams) is orm_subjects().filter(bigrams__contains=bigrams).exists()


@pytest.mark.parametrize("number", ["SC123456", "sc123456", "KVK-12345678", "XX0000"])
def test_registration_number_exists_is_the_orm_filter(subjects, number):
    assert hotpath.registration_number_exists(number) is Subject.objects.filter(registration_number=number).exists()


SEARCHES = [
    # (word_groups, bigram_sets, registration)
    ([[["pacific"], ["gateway", "gatway"]]], [], None),
    ([[["pacific"], ["zebra"]]], [], None),
    ([[["pacific"], ["gateway"]], [["pacific"], ["logistics"]], [["gateway"], ["logistics"]]], [], None),
    ([], [["海贸", "深圳"]], None),
    ([], [["海贸", "深圳"], ["海贸"], ["深圳", "远洋"]], None),
    ([[["haimao"]]], [["海贸"]], None),
    ([[["sc123456"]]], [], "SC123456"),
    ([], [], "KVK-12345678"),
    ([[["восток", "востк"]]], [], None),
]


def orm_condition(word_groups, bigram_sets, registration) -> Q:
    parts = Q()
    if word_groups:
        any_group = Q()
        for group in word_groups:
            any_group |= words_q(group)
        parts &= any_group
    if bigram_sets:
        any_set = Q()
        for bigrams in bigram_sets:
            any_set |= Q(bigrams__contains=bigrams)
        parts &= any_set
    condition = parts if (word_groups or bigram_sets) else Q(pk__in=[])
    if registration:
        condition |= Q(registration_number=registration)
    return condition


@pytest.mark.parametrize("word_groups, bigram_sets, registration", SEARCHES)
def test_search_condition_selects_what_the_orm_does(subjects, word_groups, bigram_sets, registration):
    where = hotpath.search_condition(word_groups=word_groups, bigram_sets=bigram_sets, registration=registration)
    raw = ids(Subject.objects.filter(where))
    assert raw == ids(orm_subjects().filter(orm_condition(word_groups, bigram_sets, registration)))
    # The cases are chosen to find something, but for two words no name holds together.
    assert bool(raw) is (word_groups != [[["pacific"], ["zebra"]]])


def test_search_condition_of_nothing_is_none():
    assert hotpath.search_condition(word_groups=[], bigram_sets=[], registration=None) is None


def orm_rank(*, q, word_readings, substring, registration):
    rank = TrigramWordSimilarity(Value(q), name()) + 0.5 * TrigramSimilarity("legal_name", q)
    for readings in word_readings:
        rank += Case(When(words__overlap=readings, then=Value(0.3)), default=Value(0.0), output_field=FloatField())
    if substring:
        rank += Case(When(Q(position__gt=0), then=Value(0.6)), default=Value(0.0), output_field=FloatField())
    if registration:
        rank += Case(
            When(registration_number=registration, then=Value(2.0)), default=Value(0.0), output_field=FloatField()
        )
    return rank


@pytest.mark.parametrize(
    "q, word_readings, substring, registration",
    [
        ("Pacifc Gatway", [["pacifc", "pacific"], ["gatway", "gateway"]], None, None),
        ("Pacific Trading", [["pacific"], ["trading"]], None, None),
        ("深圳海贸", [], "深圳海贸", None),
        ("海贸", [], "海贸", None),
        ("SC 123456", [["sc"], ["123456"]], None, "SC123456"),
        ("Восток", [["восток"]], None, None),
    ],
)
def test_search_rank_is_the_orm_trigram_sum(subjects, q, word_readings, substring, registration):
    raw = dict(
        Subject.objects.annotate(
            rank=hotpath.search_rank(q=q, word_readings=word_readings, substring=substring, registration=registration),
        ).values_list("id", "rank")
    )
    orm = dict(
        orm_subjects()
        .alias(position=StrIndex(Lower(name()), Value(substring or "")))
        .annotate(rank=orm_rank(q=q, word_readings=word_readings, substring=substring, registration=registration))
        .values_list("id", "rank")
    )
    assert raw == pytest.approx(orm, abs=1e-6)
    # The order the search sorts by is the same (rank, then name and id).
    order = sorted(subjects, key=lambda s: (-round(raw[s.pk], 6), s.legal_name, s.pk))
    assert order == sorted(subjects, key=lambda s: (-round(orm[s.pk], 6), s.legal_name, s.pk))
    assert max(raw.values()) > 0.3


def test_registration_match_is_the_orm_equality(subjects):
    raw = dict(Subject.objects.annotate(m=hotpath.registration_match("SC123456")).values_list("id", "m"))
    orm = dict(Subject.objects.annotate(m=Q(registration_number="SC123456")).values_list("id", "m"))
    assert raw == orm and sum(raw.values()) == 1


# --- The lease gate ------------------------------------------------------------------------


@pytest.fixture
def entries(regulator, subjects, time_machine):
    """Entries of four kinds: active, active with its publication ended (expiry not yet
    run), lifted, and a second active one on the same subject."""
    active = make_entry(regulator, subjects[0], severity="serious")
    second = make_entry(regulator, subjects[0], severity="general")
    ended = make_entry(regulator, subjects[1])
    today = timezone.localdate()
    BlacklistEntry.objects.filter(pk=ended.pk).update(starts_on=today - timedelta(days=30), publication_ends_on=today)
    lifted = make_entry(regulator, subjects[2])
    BlacklistEntry.objects.filter(pk=lifted.pk).update(status=BlacklistEntry.Status.LIFTED)
    return {"active": active, "second": second, "ended": ended, "lifted": lifted}


def orm_active_entries(subject_ids):
    return list(
        BlacklistEntry.objects.filter(
            subject_id__in=subject_ids,
            status=BlacklistEntry.Status.ACTIVE,
            publication_ends_on__gt=timezone.localdate(),
        ).order_by("publication_ends_on", "id")
    )


def field_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_active_entries_for_subjects_are_the_orm_filter(subjects, entries):
    everyone = [s.pk for s in subjects]
    for subject_ids in (everyone, everyone[:1], everyone[1:3], [everyone[3]]):
        raw = hotpath.active_entries_for_subjects(subject_ids=subject_ids)
        orm = orm_active_entries(subject_ids)
        assert [field_values(e) for e in raw] == [field_values(e) for e in orm]
    assert len(hotpath.active_entries_for_subjects(subject_ids=everyone)) == 2
    assert hotpath.active_entries_for_subjects(subject_ids=[]) == []


def orm_active_entry_exists():
    return Exists(
        BlacklistEntry.objects.filter(
            subject_id=OuterRef("pk"),
            status=BlacklistEntry.Status.ACTIVE,
            publication_ends_on__gt=timezone.localdate(),
        )
    )


def test_active_entry_exists_sql_is_the_orm_exists(subjects, entries):
    sql, params = hotpath.active_entry_exists_sql("credit_subject.id")
    raw = dict(Subject.objects.annotate(f=RawSQL(sql, params, output_field=BooleanField())).values_list("id", "f"))
    orm = dict(Subject.objects.annotate(f=orm_active_entry_exists()).values_list("id", "f"))
    assert raw == orm
    assert [s.pk for s in subjects if raw[s.pk]] == [subjects[0].pk]


def orm_acting(*, user_id, subject_id):
    qs = Subject.objects.filter(memberships__user_id=user_id, memberships__status=Membership.Status.ACTIVE)
    if subject_id is not None:
        qs = qs.filter(pk=subject_id)
    return list(qs.annotate(flag=orm_active_entry_exists())[:2])


def test_acting_subject_rows_are_the_orm_membership_join(subjects, entries):
    one, several, none = UserFactory(), UserFactory(), UserFactory()
    MembershipFactory(user=one, subject=subjects[0])  # blacklisted
    MembershipFactory(user=several, subject=subjects[3])
    MembershipFactory(user=several, subject=subjects[1])  # its entry's publication has ended
    MembershipFactory(user=several, subject=subjects[4], status=Membership.Status.PENDING)
    MembershipFactory(user=none, subject=subjects[5], status=Membership.Status.PENDING)
    cases = [(one.pk, None), (one.pk, subjects[0].pk), (one.pk, subjects[3].pk), (several.pk, None)]
    cases += [(several.pk, subjects[3].pk), (several.pk, subjects[4].pk), (none.pk, None), (none.pk, subjects[5].pk)]
    for user_id, subject_id in cases:
        raw = hotpath.acting_subject_rows(user_id=user_id, subject_id=subject_id)
        orm = orm_acting(user_id=user_id, subject_id=subject_id)
        by_id = {s.pk: s for s in orm}
        assert sorted(s.pk for s in raw) == sorted(by_id)
        for s in raw:
            assert field_values(s) == field_values(by_id[s.pk])
            assert s.has_active_blacklist_entry is by_id[s.pk].flag
    assert hotpath.acting_subject_rows(user_id=one.pk, subject_id=None)[0].has_active_blacklist_entry is True
    assert (
        hotpath.acting_subject_rows(user_id=several.pk, subject_id=subjects[3].pk)[0].has_active_blacklist_entry
        is False
    )


# --- Grades ---------------------------------------------------------------------------------


def test_upsert_recompute_request_is_the_orm_update_or_create(subjects):
    first, later = timezone.now(), timezone.now() + timedelta(seconds=5)
    subject, other = subjects[0], subjects[1]
    with transaction.atomic():
        _, created = RecomputeRequest.objects.update_or_create(subject_id=other.pk, defaults={"requested_at": first})
        orm_first = (created, list(RecomputeRequest.objects.filter(subject_id=other.pk).values("requested_at")))
        _, created = RecomputeRequest.objects.update_or_create(subject_id=other.pk, defaults={"requested_at": later})
        orm_later = (created, list(RecomputeRequest.objects.filter(subject_id=other.pk).values("requested_at")))
        transaction.set_rollback(True)
    assert hotpath.upsert_recompute_request(subject_id=subject.pk, requested_at=first) is orm_first[0] is True
    assert list(RecomputeRequest.objects.filter(subject_id=subject.pk).values("requested_at")) == orm_first[1]
    assert hotpath.upsert_recompute_request(subject_id=subject.pk, requested_at=later) is orm_later[0] is False
    assert list(RecomputeRequest.objects.filter(subject_id=subject.pk).values("requested_at")) == orm_later[1]
    assert RecomputeRequest.objects.count() == 1


def test_chunk_bounds_count_the_subjects_of_each_bucket(subjects):
    """The full run's chunks (its bucket count is ORM now): every subject once, in chunks
    aligned to the lock buckets."""
    Subject.objects.filter(pk=subjects[-1].pk).update(id=subjects[0].pk + 3 * LOCK_BUCKET)
    run = full_run.start_full_recompute(chunk_size=3, dispatch=False)
    chunks = list(RecomputeChunk.objects.filter(run=run).order_by("first_subject_id"))
    assert run.total_subjects == Subject.objects.count() == len(subjects)
    assert len(chunks) == run.total_chunks >= 2
    for chunk in chunks:
        lo, hi = chunk.first_subject_id, chunk.last_subject_id
        assert lo % LOCK_BUCKET == 0 and (hi + 1) % LOCK_BUCKET == 0
        assert Subject.objects.filter(id__range=(lo, hi)).aggregate(n=Count("id"))["n"] > 0


KEY = 0x54455354  # "TEST": not the ratings' lock class


@pytest.fixture
def other_connection():
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"],
        port=s["PORT"] or None,
        autocommit=True,
    ) as conn:
        yield conn


def try_lock(conn, bucket: int, *, shared: bool = False) -> bool:
    function = "pg_try_advisory_xact_lock_shared" if shared else "pg_try_advisory_xact_lock"
    return conn.execute(f"SELECT {function}(%s, %s)", [KEY, bucket]).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_lock_shared_is_held_until_the_transaction_ends(other_connection):
    with transaction.atomic():
        hotpath.lock_shared(KEY, 7)
        assert not try_lock(other_connection, 7)  # exclusive: refused
        assert try_lock(other_connection, 7, shared=True)  # shared: granted
        assert try_lock(other_connection, 8)
        assert hotpath.exclusively_held(KEY, [7]) == set()
    assert try_lock(other_connection, 7)


@pytest.mark.django_db(transaction=True)
def test_lock_range_holds_every_bucket_exclusively_until_the_transaction_ends(other_connection):
    with transaction.atomic():
        hotpath.lock_range(KEY, 3, 5)
        assert [try_lock(other_connection, b, shared=True) for b in (2, 3, 4, 5, 6)] == [
            True,
            False,
            False,
            False,
            True,
        ]
        assert hotpath.exclusively_held(KEY, [2, 3, 4, 5, 6]) == {3, 4, 5}
        assert hotpath.exclusively_held(KEY + 1, [3]) == set()  # another lock class
    assert all(try_lock(other_connection, b) for b in (3, 4, 5))
    assert hotpath.exclusively_held(KEY, [3, 4, 5]) == set()
    assert hotpath.exclusively_held(KEY, []) == set()


@pytest.mark.django_db(transaction=True)
def test_exclusively_held_sees_another_connections_lock(other_connection):
    with other_connection.transaction():
        other_connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", [KEY, 11])
        assert hotpath.exclusively_held(KEY, [10, 11]) == {11}
    assert hotpath.exclusively_held(KEY, [10, 11]) == set()


def show(setting: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {setting}")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_chunk_planner_settings_last_until_the_transaction_ends():
    before = (show("work_mem"), show("jit"))
    with transaction.atomic():
        hotpath.set_chunk_planner_settings()
        assert (show("work_mem"), show("jit")) == ("64MB", "off")
    assert (show("work_mem"), show("jit")) == before


# --- The rule ------------------------------------------------------------------------------

CREDIT = Path(__file__).resolve().parents[2] / "credit"
SQL_MARKS = re.compile(r"\.cursor\(|cursor\.execute|\bRawSQL\b|\.raw\(|\.extra\(|\bSET LOCAL\b")


def test_no_hand_written_sql_in_credit_outside_its_hot_path_and_the_scorer():
    allowed = {CREDIT / "hotpath.py", CREDIT / "services" / "ratings" / "scorer_sql.py"}
    found = [
        f"{path.relative_to(CREDIT)}:{number}"
        for path in sorted(CREDIT.rglob("*.py"))
        if path not in allowed and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SQL_MARKS.search(line)
    ]
    assert found == []
