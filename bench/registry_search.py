"""Registry search benchmark: typo-tolerant public search over a million subjects.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/registry_search.py [SUBJECTS] [--queries N]

1. Creates (if needed) and migrates a dedicated database, `entrepot_bench_search` (override
   with BENCH_SEARCH_DATABASE), on the PostgreSQL server of DATABASE_URL.
2. Loads SUBJECTS subjects (default 1,000,000) with COPY: realistic multi-script names
   (Latin ~55%, Chinese ~30%, Arabic ~10%, Cyrillic ~5%), some with trading names. The
   migration's trigger fills the search arrays and the word dictionary during COPY; the
   search indexes are dropped for the load and rebuilt after it. The data
   is reused on the next run when the count matches (pass --reload to regenerate).
3. Runs a few hundred queries built from random subjects, each with a typo (a dropped,
   doubled, swapped or replaced character), a partial CJK name, or a registration number
   written with spaces in lower case. Each query is timed twice: through the real selector
   (`search_subjects`, first page of 25) and through the API
   (`GET /api/v1/registry/subjects/?q=`, Django test client: throttle, word look-up, the page
   with its total in one query, serialisation).
4. Prints p50 / p95 / p99 / max and the recall (the intended subject on the first page).

The target is p95 <= 50 ms. A benchmark measures and reports; it is not a test.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_SEARCH_DATABASE", "entrepot_bench_search")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
os.environ["DATABASE_URL"] = _base_url.rsplit("/", 1)[0] + "/" + BENCH_DB

import django  # noqa: E402

SEED = 20261122

# --- Name material --------------------------------------------------------------------
LATIN_SYLLABLES = (
    "al bar cor dan el fen gar hal in jor kal lun mar nor or pal quin ros sal tor ul vel wen xan yor zen "
    "ber cas dor fin gal hem iv jas kor lin mon nev ost pra rin sel tav urb vin wol zar bri clo dra fro"
).split()
LATIN_CITIES = (
    "Shenzhen Shanghai Ningbo Yiwu Guangzhou Hamburg Rotterdam Antwerp Felixstowe Valencia Genoa Marseille "
    "Dubai Riyadh Istanbul Mumbai Singapore Jakarta Manila Bangkok Sydney Auckland Toronto Chicago Dallas "
    "Miami Seattle Oakland Santos Lagos Nairobi Warsaw Prague Lyon Milan Madrid Lisbon Dublin Leeds Osaka"
).split()
LATIN_INDUSTRIES = [
    "Trading",
    "Logistics",
    "Warehousing",
    "Fulfilment",
    "Freight",
    "Import Export",
    "Supply Chain",
    "E-Commerce",
    "Distribution",
    "Cargo",
    "Textiles",
    "Electronics",
    "Home Goods",
    "Outdoor",
    "Pet Supplies",
    "Cosmetics",
]
LATIN_SUFFIXES = ["Ltd", "LLC", "GmbH", "B.V.", "S.A.", "Co., Ltd", "Inc", "Pte Ltd", "SARL", "S.r.l.", "Oy", "AB"]
LATIN_COUNTRIES = ["US", "GB", "DE", "NL", "FR", "IT", "ES", "SG", "AU", "CA", "BE", "SE", "FI", "IE", "PL"]

CN_CITIES = "深圳市 上海 广州市 义乌市 宁波 杭州市 厦门 青岛 天津 苏州市 东莞市 佛山市 福州 成都 重庆 武汉".split()
CN_BRAND_CHARS = (
    "海贸远洋通汇华信达鑫源盛泰兴隆丰恒瑞祥宏博创新联合金银东西南北中天地星月光明"
    "宇航嘉禾锦绣美佳安康平顺和富贵百千万亿龙凤鹏飞腾越云峰岭川江河湖港湾桥城"
)
CN_INDUSTRIES = [
    "跨境电子商务",
    "国际贸易",
    "供应链管理",
    "国际物流",
    "仓储物流",
    "进出口",
    "电子科技",
    "实业",
    "商贸",
    "国际货运代理",
]
CN_SUFFIXES = ["有限公司", "有限公司", "股份有限公司", "集团有限公司"]
PINYIN = "hai mao yuan yang tong hui hua xin da xin yuan sheng tai xing long feng heng rui xiang hong bo chuang".split()

AR_BRANDS = (
    "النور الأمل الفجر الخليج الصحراء الواحة النخيل الريان الهدى السلام الوفاء البركة الإتحاد الرواد "
    "المستقبل الشروق الأفق الجزيرة الرمال اللؤلؤة المرجان الياسمين الزهراء العين الراشد المنصوري الحمادي "
    "السويدي الشامسي القاسمي النعيمي الكعبي المهيري الفلاسي الظاهري المزروعي العتيبي القحطاني الدوسري "
    "الشمري الحربي الغامدي الزهراني المالكي العنزي السبيعي البلوشي الهاشمي الأنصاري الخطيب الحداد "
    "النجار الصباغ العطار الخياط الحلبي الدمشقي البغدادي المصري الشامي اليمني العماني الكويتي القطري"
).split()
AR_ACTIVITIES = [
    "للتجارة",
    "للتجارة العامة",
    "للخدمات اللوجستية",
    "للتخزين",
    "للشحن",
    "للاستيراد والتصدير",
    "للتجارة الإلكترونية",
]
AR_CITIES = "دبي الرياض جدة الدوحة الكويت مسقط المنامة الشارقة القاهرة عمان".split()
AR_COUNTRIES = ["AE", "SA", "QA", "KW", "OM", "BH", "EG", "JO"]

RU_BRANDS = (
    "Восток Север Балт Урал Сибирь Волга Нева Глобал Транс Импорт Логистик Карго Альфа Вектор Орион Дельта "
    "Кедр Алтай Амур Байкал Дон Кама Ока Енисей Лена Терек Кубань Омега Сигма Гарант Прогресс Стандарт"
).split()
RU_ACTIVITIES = ["Трейд", "Логистика", "Склад", "Экспорт", "Дистрибуция", "Снабжение"]
RU_FORMS = ["ООО", "АО", "ТОО"]
RU_COUNTRIES = ["RU", "KZ", "BY", "UZ"]


def latin_word(rnd: random.Random) -> str:
    return "".join(rnd.choice(LATIN_SYLLABLES) for _ in range(rnd.choice((2, 2, 3)))).capitalize()


def make_subject(i: int, rnd: random.Random) -> dict:
    roll = rnd.random()
    trading_name = ""
    if roll < 0.55:
        country = rnd.choice(LATIN_COUNTRIES)
        words = [latin_word(rnd)]
        if rnd.random() < 0.45:
            words.append(latin_word(rnd))
        if rnd.random() < 0.4:
            words.insert(0, rnd.choice(LATIN_CITIES))
        name = " ".join([*words, rnd.choice(LATIN_INDUSTRIES), rnd.choice(LATIN_SUFFIXES)])
        if rnd.random() < 0.2:
            trading_name = f"{latin_word(rnd)} {rnd.choice(['Store', 'Direct', 'Express', 'Hub', 'Shop'])}"
        registration = f"{country}{i:010d}"
    elif roll < 0.85:
        country = "CN"
        brand = "".join(rnd.choice(CN_BRAND_CHARS) for _ in range(rnd.choice((2, 2, 3))))
        name = rnd.choice(CN_CITIES) + brand + rnd.choice(CN_INDUSTRIES) + rnd.choice(CN_SUFFIXES)
        if rnd.random() < 0.3:
            trading_name = " ".join(rnd.choice(PINYIN).capitalize() for _ in range(2)) + " Trading"
        registration = f"9144{i:010d}X"
    elif roll < 0.95:
        country = rnd.choice(AR_COUNTRIES)
        parts = ["شركة", rnd.choice(AR_BRANDS)]
        if rnd.random() < 0.5:
            parts.append(rnd.choice(AR_BRANDS))
        parts.append(rnd.choice(AR_ACTIVITIES))
        if rnd.random() < 0.5:
            parts.append(rnd.choice(AR_CITIES))
        name = " ".join(parts)
        if rnd.random() < 0.3:
            trading_name = f"{latin_word(rnd)} Gulf Trading"
        registration = f"CR-{i:010d}"
    else:
        country = rnd.choice(RU_COUNTRIES)
        brand = rnd.choice(RU_BRANDS) + rnd.choice(RU_BRANDS).lower()
        name = f"{rnd.choice(RU_FORMS)} «{brand} {rnd.choice(RU_ACTIVITIES)}»"
        registration = f"OGRN{i:011d}"
    score = round(rnd.uniform(20, 98), 2)
    grade = "A" if score >= 90 else "B" if score >= 70 else "C" if score >= 40 else "D"
    if rnd.random() < 0.08:
        grade, score = "M", None
    return {
        "country": country,
        "registration_number": registration,
        "legal_name": name,
        "trading_name": trading_name,
        "is_merchant": rnd.random() < 0.8,
        "is_warehouse_operator": rnd.random() < 0.15,
        "is_blacklisted": rnd.random() < 0.01,
        "score": score,
        "grade": grade,
    }


def typo(text: str, rnd: random.Random) -> str:
    """One keyboard-slip edit somewhere after the first character."""
    if len(text) < 4:
        return text
    i = rnd.randrange(1, len(text) - 1)
    if text[i].isspace():
        i -= 1
    op = rnd.choice(("drop", "double", "swap", "replace"))
    if op == "drop":
        return text[:i] + text[i + 1 :]
    if op == "double":
        return text[:i] + text[i] + text[i:]
    if op == "swap" and not text[i + 1].isspace():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if 0x2E80 <= ord(text[i]) <= 0xFFFF:
        return text[:i] + rnd.choice(CN_BRAND_CHARS) + text[i + 1 :]
    if 0x0600 <= ord(text[i]) <= 0x06FF:
        return text[:i] + rnd.choice("بتثجحدرزسشصعفقكلمنهوي") + text[i + 1 :]
    if 0x0400 <= ord(text[i]) <= 0x04FF:
        return text[:i] + rnd.choice("аеиоуклмнрст") + text[i + 1 :]
    return text[:i] + rnd.choice("aeiourstnl") + text[i + 1 :]


def make_query(subject: dict, rnd: random.Random) -> tuple[str, str]:
    name = subject["legal_name"]
    roll = rnd.random()
    if roll < 0.1:
        reg = subject["registration_number"].lower()
        return f"{reg[:4]} {reg[4:]}", "registration"
    if subject["country"] == "CN":
        # A partial name without the city and the legal form, sometimes one character off.
        core = name
        for city in CN_CITIES:
            if core.startswith(city):
                core = core[len(city) :]
                break
        for suffix in sorted(CN_SUFFIXES, key=len, reverse=True):
            if core.endswith(suffix):
                core = core[: -len(suffix)]
                break
        if rnd.random() < 0.5:
            return core[:4], "cjk-partial"
        return typo(core, rnd), "cjk-typo"
    words = name.replace("«", "").replace("»", "").split()
    start = 1 if subject["country"] in AR_COUNTRIES else 0  # skip "شركة"
    picked = " ".join(words[start : start + rnd.choice((2, 3))])
    return typo(picked, rnd), "name-typo"


# --- Loading ----------------------------------------------------------------------------
COLUMNS = [
    "country",
    "registration_number",
    "legal_name",
    "trading_name",
    "is_merchant",
    "is_warehouse_operator",
    "is_payment_institution",
    "is_logistics_provider",
    "mode_b2b",
    "mode_b2c",
    "mode_b2b2c",
    "mode_import",
    "mode_export",
    "city",
    "address",
    "website",
    "description",
    "score",
    "grade",
    "is_blacklisted",
    "created_at",
    "updated_at",
]


def ensure_database():
    import psycopg

    admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            print(f"created database {BENCH_DB}")


def load(n: int, reload: bool) -> None:
    from django.db import connection

    from credit.models import Subject

    existing = Subject.objects.count()
    if existing == n and not reload:
        print(f"reusing {existing:,} subjects in {BENCH_DB}")
        return
    import importlib

    migration = importlib.import_module("credit.migrations.0003_registry_search")
    rnd = random.Random(SEED)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name in migration.INDEXES:  # rebuilt after the load: much faster than row by row
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("TRUNCATE credit_subject, credit_search_word RESTART IDENTITY CASCADE")
        raw = cursor.connection
        with raw.cursor() as copy_cursor:
            # The migration's trigger fills search_words / search_bigrams and the dictionary.
            with copy_cursor.copy(f"COPY credit_subject ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for i in range(n):
                    s = make_subject(i, rnd)
                    copy.write_row(
                        (
                            s["country"],
                            s["registration_number"],
                            s["legal_name"],
                            s["trading_name"],
                            s["is_merchant"],
                            s["is_warehouse_operator"],
                            False,
                            False,
                            True,
                            True,
                            False,
                            False,
                            True,
                            "",
                            "",
                            "",
                            "",
                            s["score"],
                            s["grade"],
                            s["is_blacklisted"],
                            now,
                            now,
                        )
                    )
        loaded = time.perf_counter()
        print(f"COPY {n:,} subjects (trigger computing search fields): {loaded - started:.1f} s")
        for statement in migration.FORWARD:
            if "CREATE INDEX" in statement and "ON credit_subject " in statement:
                t0 = time.perf_counter()
                cursor.execute(statement)
                print(f"  {' '.join(statement.split())[:100]}: {time.perf_counter() - t0:.1f} s")
        cursor.execute("ANALYZE credit_subject")
        cursor.execute("ANALYZE credit_search_word")
        cursor.execute("SELECT count(*) FROM credit_search_word")
        print(f"  dictionary: {cursor.fetchone()[0]:,} distinct words")
    print(f"load total: {time.perf_counter() - started:.1f} s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def report(label: str, values: list[float]) -> None:
    print(
        f"{label:<34} n={len(values):>4}  p50={percentile(values, 50):7.1f} ms  p95={percentile(values, 95):7.1f} ms  "
        f"p99={percentile(values, 99):7.1f} ms  max={max(values):7.1f} ms  mean={statistics.fmean(values):6.1f} ms"
    )


def run_queries(n_subjects: int, n_queries: int) -> None:
    from django.db import connection, reset_queries
    from django.test import Client

    from credit.selectors.registry import search_subjects

    rnd = random.Random(SEED + 1)
    # Regenerate the same subjects deterministically to know each query's intended answer.
    picks = sorted(rnd.sample(range(n_subjects), n_queries))
    gen = random.Random(SEED)
    wanted = {}
    j = 0
    for i in range(n_subjects):
        s = make_subject(i, gen)
        if j < len(picks) and picks[j] == i:
            wanted[i + 1] = s  # RESTART IDENTITY: ids follow the COPY order
            j += 1
            if j == len(picks):
                break
    queries = [(pk, *make_query(s, rnd)) for pk, s in wanted.items()]
    rnd.shuffle(queries)

    client = Client()
    for _pk, q, _ in queries[:10]:  # warm-up (caches, plans)
        list(search_subjects(q=q)[:25])
        client.get("/api/v1/registry/subjects/", {"q": q})

    selector_ms, api_ms, by_kind = [], [], {}
    hits = 0
    for pk, q, kind in queries:
        t0 = time.perf_counter()
        page = list(search_subjects(q=q)[:25])
        elapsed = (time.perf_counter() - t0) * 1000
        selector_ms.append(elapsed)
        by_kind.setdefault(kind, []).append(elapsed)
        hits += any(s.pk == pk for s in page)

        t0 = time.perf_counter()
        response = client.get("/api/v1/registry/subjects/", {"q": q})
        api_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
        reset_queries()

    print()
    print(f"registry search over {n_subjects:,} subjects, {len(queries)} queries")
    report("selector, first page of 25", selector_ms)
    for kind, values in sorted(by_kind.items()):
        report(f"  selector, {kind}", values)
    report("API GET /registry/subjects/?q=", api_ms)
    share = 100 * hits / len(queries)
    print(f"recall: intended subject on the first page for {hits}/{len(queries)} queries ({share:.1f}%)")
    p95 = percentile(api_ms, 95)
    print(f"target p95 <= 50 ms through the API: {'met' if p95 <= 50 else 'NOT met'} ({p95:.1f} ms)")
    sample = next(q for _, q, kind in queries if kind == "name-typo")
    with connection.cursor() as cursor:
        qs = search_subjects(q=sample)[:25]
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
        print(f"\nplan for {sample!r}:")
        for (line,) in cursor.fetchall():
            print("  " + line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--reload", action="store_true", help="regenerate the subjects even if the count matches")
    args = parser.parse_args()

    ensure_database()
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*", "testserver"]
    call_command("migrate", verbosity=0)
    load(args.subjects, args.reload)
    run_queries(args.subjects, min(args.queries, args.subjects))


if __name__ == "__main__":
    main()
