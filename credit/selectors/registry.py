"""Public reads of the credit registry: search, profiles and the public blacklist.

Everything here is public: these selectors only ever return what anyone may see (no
member e-mails, no evidence, no appeal texts).

Search combines three strategies, all index-backed (migration 0003):

* registration number, exact after normalisation (spaces removed, upper case);
* words, typo-tolerant (Latin, Cyrillic, Arabic...): each query word is expanded through
  the word dictionary `credit_search_word` (pg_trgm similarity) to the
  words it may stand for, then subjects whose `search_words` hold one of them for every
  query word (one may be missing from three or more) are found in a GIN array index. The
  fuzzy step runs over distinct words, not over a million names;
* CJK bigram containment (`search_bigrams @> bigrams(q)`): pg_trgm cannot match a two- or
  three-character CJK query inside a CJK name (no spaces, and pg_trgm pads words with
  blanks: "海贸" never matches "深圳市海贸有限公司"); containment of every bigram of the
  query does, finds "深圳海贸" in "深圳市海贸…" (a character missing), and one wrong
  or extra character is tolerated by also accepting the bigram sets without it.

Results are ranked by pg_trgm word similarity of the whole query to the name, plus
similarity to the legal name, plus bonuses for a CJK substring or a registration number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from itertools import combinations

from django.db.models import BooleanField, FloatField, QuerySet, Value
from django.utils import timezone

from credit import hotpath
from credit.models import BlacklistEntry, EventKind, Rating, Subject
from credit.selectors.accounts import get_subject, normalize_registration_number

# The similarity threshold for query words lives in `entrepot_similar_words` (migration 0003).
MAX_EXPANSIONS = 40
MIN_WORD_LENGTH = 2  # shorter tokens ("&", "a") do not narrow anything
FUZZY_WORD_LENGTH = 3  # shorter words match exactly
MAX_WORDS = 5
_REGISTRATION_RE = re.compile(r"^[A-Z0-9][A-Z0-9./-]{1,39}$")
MAX_QUERY_LENGTH = 200

KIND_LABELS = {
    "merchant": "Merchant",
    "warehouse_operator": "Warehouse operator",
    "payment_institution": "Payment institution",
    "logistics_provider": "Logistics provider",
}
KIND_FIELDS = {
    "merchant": "is_merchant",
    "warehouse_operator": "is_warehouse_operator",
    "payment_institution": "is_payment_institution",
    "logistics_provider": "is_logistics_provider",
}


def normalize_query(q: str | None) -> str:
    """Collapse whitespace; the empty string means "no query"."""
    return " ".join((q or "").split())[:MAX_QUERY_LENGTH]


def name_bigrams(text: str) -> list[str]:
    """The bigrams the database indexes (see `entrepot_name_bigrams` in migration 0003):
    pairs of adjacent non-space characters, lower-cased, at least one of them from the
    unspaced East Asian scripts (U+2E80-U+FFFF: CJK, kana, Hangul). Spaced scripts (Latin,
    Cyrillic, Arabic) are served by the word dictionary."""
    lowered = text.lower()
    pairs = {lowered[i : i + 2] for i in range(len(lowered) - 1)}
    return sorted(p for p in pairs if not any(c.isspace() for c in p) and any(0x2E80 <= ord(c) <= 0xFFFF for c in p))


def query_words(q: str) -> list[str]:
    """The query's words as `entrepot_name_words` cuts names (runs of letters and digits,
    lower case, CJK runs left to the bigrams), at least two characters; the five longest."""
    words = [
        w
        for w in re.findall(r"[^\W_]+", q.lower())
        if len(w) >= MIN_WORD_LENGTH and not any(0x2E80 <= ord(c) <= 0xFFFF for c in w)
    ]
    words = list(dict.fromkeys(words))
    if len(words) > MAX_WORDS:
        keep = set(sorted(range(len(words)), key=lambda i: -len(words[i]))[:MAX_WORDS])
        words = [w for i, w in enumerate(words) if i in keep]
    return words


def typo_bigram_variants(q: str) -> list[list[str]]:
    """For a CJK query of four or more characters: the bigram sets left when one character
    or one bigram is ignored, or with two adjacent characters swapped, so one wrong, extra,
    doubled, missing or transposed character still matches (each set keeps at least two
    bigrams to stay selective)."""
    full = set(name_bigrams(q))
    if len(q) < 4 or len(full) < 3:
        return []
    candidates = [set(name_bigrams(q[:i])) | set(name_bigrams(q[i + 1 :])) for i in range(len(q))]
    # A character missing from the query leaves one bigram that spans the gap.
    candidates += [full - {bigram} for bigram in sorted(full)]
    # Two characters swapped ("贸商" for "商贸").
    candidates += [set(name_bigrams(q[:i] + q[i + 1] + q[i] + q[i + 2 :])) for i in range(len(q) - 1)]
    variants = []
    for remaining in candidates:
        if len(remaining) >= 2 and remaining != full and sorted(remaining) not in variants:
            variants.append(sorted(remaining))
    return variants


def kind_labels(subject: Subject) -> str:
    return ", ".join(KIND_LABELS[kind] for kind in subject.kinds)


def public_subjects() -> QuerySet[Subject]:
    """Every subject is public; only its public fields are ever serialised."""
    return Subject.objects.all()


def search_subjects(*, q: str, country: str | None = None) -> QuerySet[Subject]:
    """Subjects matching `q` by name (typo-tolerant, any script) or by registration number
    (exact, normalised), best match first. Each row carries `rank` (higher is better) and
    `registration_match`. An empty `q` lists every subject by name."""
    q = normalize_query(q)
    qs = public_subjects()
    if country:
        qs = qs.filter(country=country.upper())
    if not q:
        return qs.annotate(rank=Value(0.0, output_field=FloatField())).order_by("legal_name", "id")

    registration = normalize_registration_number(q)
    return _search(qs, q=q, registration=registration if _REGISTRATION_RE.match(registration) else None)


def _swaps(word: str) -> list[str]:
    """The word with two adjacent letters swapped: trigrams score a transposition poorly
    ("chicgao" ~ "chicago" 0.33), so these are looked up exactly instead."""
    return [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1) if word[i] != word[i + 1]]


def expand_words(words: list[str], *, fuzzy_known: bool = False) -> dict[str, list[str]]:
    """Each query word with the dictionary words it may stand for, in one round trip:
    itself first, then the most similar (typos; a long enough beginning of a word is
    similar to it too) and those that differ by two swapped letters. A word found as
    typed stands for itself only, unless `fuzzy_known`. Short words and numbers always
    stand only for themselves."""
    candidates = [w for w in words if len(w) >= FUZZY_WORD_LENGTH and not w.isdigit()]
    expanded = {w: [w] for w in words}
    if not candidates:
        return expanded
    swapped_from = {swap: word for word in candidates for swap in _swaps(word)}
    rows = hotpath.similar_words(candidates, list(swapped_from), fuzzy_known=fuzzy_known, limit=MAX_EXPANSIONS)
    fuzzy = set()
    for is_swap, word, similar in rows:
        if not is_swap and similar is not None:
            expanded[word] = list(similar)
            fuzzy.add(word)
    for is_swap, swap, _ in rows:
        original = swapped_from.get(swap) if is_swap else None
        if original in fuzzy and swap not in expanded[original]:
            expanded[original].insert(1, swap)
    return expanded


def _search(qs: QuerySet[Subject], *, q: str, registration: str | None) -> QuerySet[Subject]:
    if registration and sum(c.isdigit() for c in registration) >= 4:
        # Looks like a registration number: when one matches, that is the answer.
        if hotpath.registration_number_exists(registration):
            return qs.filter(registration_number=registration).annotate(
                registration_match=Value(True, output_field=BooleanField()),
                rank=Value(2.0, output_field=FloatField()),
            )
    bigrams = name_bigrams(q)
    words = query_words(q)
    word_groups: list[list[list[str]]] = []
    bigram_sets: list[list[str]] = []
    expanded: dict[str, list[str]] = {}
    if words:
        # Every word must be found (one expanded word each). Only when no name has them
        # all may one be missing from a query of three or more words: relaxing first would
        # let two common words ("Home Goods") match tens of thousands of names.
        expanded = expand_words(words)
        exact = [w for w in words if len(w) >= FUZZY_WORD_LENGTH and not w.isdigit() and expanded[w] == [w]]
        if exact and not hotpath.words_exist([expanded[w] for w in words]):
            # A word typed correctly may still be a typo for another (both in use).
            expanded = expand_words(words, fuzzy_known=True)
        all_readings = [expanded[w] for w in words]
        if len(words) >= 3 and not hotpath.words_exist(all_readings):
            word_groups = [[expanded[w] for w in combo] for combo in combinations(words, len(words) - 1)]
        else:
            word_groups = [all_readings]
    if bigrams:
        bigram_sets = [bigrams]
        variants = typo_bigram_variants(q)
        if variants and not hotpath.bigrams_exist(bigrams):
            # Only when no name holds the query as written: the variants are broader.
            bigram_sets.extend(variants)
    where = hotpath.search_condition(word_groups=word_groups, bigram_sets=bigram_sets, registration=registration)
    if where is None:
        return qs.none()
    return (
        qs.filter(where)
        .annotate(
            registration_match=(
                hotpath.registration_match(registration) if registration else Value(False, output_field=BooleanField())
            ),
            rank=hotpath.search_rank(
                q=q,
                # A name holding the word as typed, or one of its closest readings, ranks higher.
                word_readings=[expanded[word][:3] for word in words],
                substring=q.lower() if bigrams else None,
                registration=registration,
            ),
        )
        .order_by("-rank", "legal_name", "id")
    )


def filter_subjects(
    qs: QuerySet[Subject],
    *,
    grade: list[str] | None = None,
    kind: str | None = None,
    blacklisted: bool | None = None,
) -> QuerySet[Subject]:
    """The registry's list filters, shared by the API and the web page."""
    if grade:
        qs = qs.filter(grade__in=grade)
    if kind:
        qs = qs.filter(**{KIND_FIELDS[kind]: True})
    if blacklisted is not None:
        qs = qs.filter(is_blacklisted=blacklisted)
    return qs


# --- Profiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    grade: str
    score: float


@dataclass
class PublicProfile:
    subject: Subject
    latest_rating: Rating | None
    model_version: int | None
    reasons: list[dict]
    history: list[HistoryPoint]
    active_entries: list[BlacklistEntry]
    as_of: date | None = None
    rating_as_of: Rating | None = None
    generated_at: datetime = field(default_factory=timezone.now)
    reason_rows: list[dict] = field(default_factory=list)

    @property
    def grade(self) -> str:
        if self.as_of is not None:
            return self.rating_as_of.grade if self.rating_as_of else Subject.Grade.M
        return self.subject.grade

    @property
    def grade_label(self) -> str:
        return Subject.Grade(self.grade).label

    @property
    def score(self):
        if self.as_of is not None:
            return self.rating_as_of.score if self.rating_as_of else None
        return self.subject.score


def public_profile(*, subject_id: int, as_of: date | None = None) -> PublicProfile:
    """A subject's public standing: snapshot grade and score, reason codes and model
    version of its latest rating, grade history, and active public blacklist entries.
    With `as_of`, `grade`/`score` are those in force at the end of that day."""
    from credit.selectors.blacklist import active_entries_for
    from credit.selectors.ratings import rating_as_of, rating_history

    subject = get_subject(subject_id=subject_id)
    history_rows = list(rating_history(subject_id=subject.pk))  # oldest first, with the model
    latest = history_rows[-1] if history_rows else None
    at_rating = None
    if as_of is not None:
        end_of_day = datetime.combine(as_of, time.max, tzinfo=UTC)
        at_rating = rating_as_of(subject_id=subject.pk, at=end_of_day)
    today = timezone.localdate()
    published = [
        entry
        for entry in active_entries_for(subject_id=subject.pk)
        if entry.starts_on <= today < entry.publication_ends_on
    ]
    published.sort(key=lambda e: (e.starts_on, e.pk), reverse=True)
    return PublicProfile(
        subject=subject,
        latest_rating=latest,
        model_version=latest.model.version if latest else None,
        reasons=list(latest.reasons or []) if latest else [],
        history=[HistoryPoint(at=r.computed_at, grade=r.grade, score=float(r.score)) for r in history_rows],
        active_entries=published,
        as_of=as_of,
        rating_as_of=at_rating,
        reason_rows=reason_rows(list(latest.reasons or [])) if latest else [],
    )


def reason_rows(reasons: list[dict]) -> list[dict]:
    """Reason codes with a label and the direction of their contribution."""
    codes = [r.get("code") for r in reasons if r.get("code")]
    names = dict(EventKind.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    special = {
        "blacklisted": "An active blacklist entry (grade forced down, score capped)",
        "insufficient_history": "Too little history for a letter grade yet",
    }
    rows = []
    for r in reasons:
        code = r.get("code") or ""
        points = r.get("points")
        if points is None:
            direction = "rule"
        else:
            direction = "lowers" if float(points) < 0 else "raises"
        rows.append(
            {
                "code": code,
                "label": special.get(code) or names.get(code) or code.replace("_", " "),
                "component": r.get("component"),
                "points": None if points is None else float(points),
                "direction": direction,
                "events": int(r.get("events") or 0),
            }
        )
    return rows


# --- The public blacklist ---------------------------------------------------------------


def public_blacklist_entries(
    *, country: str | None = None, category: str | None = None, severity: str | None = None
) -> QuerySet[BlacklistEntry]:
    """Active, published entries with their subjects, newest first (H3's `public_blacklist`
    decides what is published; this only filters it)."""
    from credit.selectors.blacklist import public_blacklist

    qs = public_blacklist().select_related("subject")
    if country:
        qs = qs.filter(subject__country=country.upper())
    if category:
        qs = qs.filter(category=category)
    if severity:
        qs = qs.filter(severity=severity)
    return qs.order_by("-starts_on", "-id")


__all__ = [
    "PublicProfile",
    "filter_subjects",
    "name_bigrams",
    "public_blacklist_entries",
    "public_profile",
    "public_subjects",
    "reason_rows",
    "kind_labels",
    "search_subjects",
]
