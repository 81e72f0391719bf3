"""Registry search (credit.selectors.registry.search_subjects): typo-tolerant, any script,
registration numbers exact after normalisation, ranked; PostgreSQL indexes."""

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from credit.selectors.registry import name_bigrams, search_subjects
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

NAMES = [
    ("CN", "91440300MA5FXXXX1A", "深圳市海贸跨境电子商务有限公司", "Haimao Cross-border"),
    ("CN", "91310000MA1KXXXX2B", "上海远洋仓储物流有限公司", ""),
    ("CN", "91110000MA0PAYX3C", "北京通汇支付有限公司", ""),
    ("US", "EIN-84-1234567", "Pacific Gateway Warehousing LLC", ""),
    ("NL", "KVK-12345678", "Rotterdam Fulfilment B.V.", "RotterFul"),
    ("DE", "HRB-98765", "Frankfurt Cargo Lager GmbH", ""),
    ("AE", "DMCC-445566", "شركة دبي للتخزين والخدمات اللوجستية", ""),
    ("RU", "OGRN1027700132195", "ООО «Восток Логистика»", ""),
    ("GB", "SC123456", "Pacific Trading Ltd", ""),
    ("FR", "RCS-552100554", "Zebra Holdings SARL", ""),
]


@pytest.fixture
def subjects():
    made = {}
    for country, number, name, trading in NAMES:
        made[name] = SubjectFactory(country=country, registration_number=number, legal_name=name, trading_name=trading)
    return made


def names(qs, limit=5):
    return [s.legal_name for s in list(qs)[:limit]]


def test_latin_name_with_two_typos_is_found_first(subjects):
    result = names(search_subjects(q="Pacifc Gatway"))
    assert result[0] == "Pacific Gateway Warehousing LLC"
    assert "Zebra Holdings SARL" not in result


def test_closer_name_ranks_above_a_partial_match(subjects):
    assert set(names(search_subjects(q="Pacific"))) == {"Pacific Trading Ltd", "Pacific Gateway Warehousing LLC"}
    assert names(search_subjects(q="Pacific Trading"))[0] == "Pacific Trading Ltd"
    assert names(search_subjects(q="pacific gateway"))[0] == "Pacific Gateway Warehousing LLC"


def test_every_word_counts_but_one_may_be_missing_from_three(subjects):
    assert names(search_subjects(q="Pacific Zebra")) == []
    # The visitor guesses a word that is not in the name: two of three still match.
    assert names(search_subjects(q="Pacific Gateway Logistics"))[0] == "Pacific Gateway Warehousing LLC"


def test_swapped_letters_are_found(subjects):
    """Trigrams score a transposition poorly; swapped-letter variants are looked up exactly."""
    assert names(search_subjects(q="Frankfrut Cargo"))[0] == "Frankfurt Cargo Lager GmbH"
    assert names(search_subjects(q="上海远仓洋储"))[0] == "上海远洋仓储物流有限公司"


def test_a_typo_that_is_another_real_word_still_finds_the_subject(subjects):
    # "pacifica" is a word of another name, so it is first taken as typed; no name has
    # both words, so the correctly spelt words are expanded too and "pacific" matches.
    SubjectFactory(legal_name="Pacifica Holdings", country="MX")
    assert names(search_subjects(q="Pacifica Holdings")) == ["Pacifica Holdings"]
    assert names(search_subjects(q="Pacifica Gateway"))[0] == "Pacific Gateway Warehousing LLC"


def test_a_word_being_typed_matches_by_prefix(subjects):
    assert names(search_subjects(q="Rotterd"))[0] == "Rotterdam Fulfilment B.V."


def test_postgresql_produces_trigrams_for_cjk_and_arabic():
    """C.UTF-8 classifies CJK and Arabic letters as alphanumeric, so pg_trgm indexes them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT show_trgm('深圳市海贸'), show_trgm('شركة')")
        cjk, arabic = cursor.fetchone()
    assert len(cjk) == 6 and len(arabic) == 5


@pytest.mark.parametrize(
    "query",
    ["海贸", "深圳海贸", "海贸跨境", "海贸跨境电子"],
)
def test_short_and_partial_chinese_queries_find_the_subject(subjects, query):
    """Two characters cannot form a trigram inside an unspaced CJK name; bigram containment
    finds them, and also a name written without the city's 市."""
    assert names(search_subjects(q=query))[0] == "深圳市海贸跨境电子商务有限公司"


def test_chinese_query_with_one_wrong_character_is_found(subjects):
    assert names(search_subjects(q="上海远羊仓储"))[0] == "上海远洋仓储物流有限公司"


def test_arabic_name_with_a_typo_is_found(subjects):
    assert names(search_subjects(q="دبي للتخزن"))[0] == "شركة دبي للتخزين والخدمات اللوجستية"


def test_cyrillic_name_with_a_typo_is_found(subjects):
    assert names(search_subjects(q="Восток Логистка"))[0] == "ООО «Восток Логистика»"


def test_trading_name_is_searched_too(subjects):
    assert names(search_subjects(q="Haimao Cros border"))[0] == "深圳市海贸跨境电子商务有限公司"


def test_registration_number_matches_exactly_with_spaces_and_case_ignored(subjects):
    result = list(search_subjects(q=" 9144 0300ma5f xxxx1a "))
    assert result[0].legal_name == "深圳市海贸跨境电子商务有限公司"
    assert result[0].registration_match is True
    # Exact, not fuzzy: one wrong character finds nothing by number.
    assert not any(s.registration_match for s in search_subjects(q="91440300MA5FXXXX1B"))


def test_country_filter_and_empty_query(subjects):
    assert names(search_subjects(q="Pacific", country="gb")) == ["Pacific Trading Ltd"]
    everything = list(search_subjects(q="   "))
    assert len(everything) == len(NAMES)
    assert [s.legal_name for s in everything] == sorted(s.legal_name for s in everything)


def test_unrelated_query_finds_nothing(subjects):
    assert names(search_subjects(q="Quokka Biscuits")) == []


def test_search_uses_the_trigram_index(subjects):
    """On a big table the planner must reach for the GIN indexes (not a sequential scan)."""
    qs = search_subjects(q="Pacifc Gatway")[:25]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on credit_subject_search_words" in plan


CJK_TEXT = st.text(alphabet=st.sampled_from(list("深圳市海贸有限公司ab Z9-北京") + [" ", "\u3000"]), max_size=20)


@settings(max_examples=60, deadline=None)
@given(text=CJK_TEXT)
def test_python_bigrams_match_the_indexed_sql_function(text):
    """The query side (Python) and the index side (SQL) must cut text into the same bigrams,
    or containment would miss."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT entrepot_name_bigrams(%s)", [text])
        (from_sql,) = cursor.fetchone()
    assert sorted(from_sql) == name_bigrams(text)


def test_every_misspelt_word_must_find_its_match(subjects):
    """Typo tolerance is word by word: each misspelt word finds its word in the name, and a
    two-word query whose second word is in no name finds nothing."""
    assert names(search_subjects(q="Roterdam fulfilmnt")) == ["Rotterdam Fulfilment B.V."]
    assert names(search_subjects(q="Rotterdam Zeppelin")) == []


def test_substring_and_registration_number_in_lower_case_are_found(subjects):
    assert names(search_subjects(q="gateway"))[0] == "Pacific Gateway Warehousing LLC"
    result = list(search_subjects(q="kvk-12345678"))
    assert result[0].legal_name == "Rotterdam Fulfilment B.V." and result[0].registration_match


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("深圳市海貿跨境", "深圳市海贸跨境电子商务有限公司"),  # 貿: the traditional form of 贸
        ("上海遠洋仓储", "上海远洋仓储物流有限公司"),  # 遠 for 远
        ("北京通汇付", "北京通汇支付有限公司"),  # 支 missing
    ],
)
def test_chinese_name_with_a_traditional_or_missing_character_is_found(subjects, query, found):
    assert names(search_subjects(q=query))[0] == found
