"""One engine, one behaviour: PostgreSQL from `make run` to production. No file of app code
mentions another database engine, and no code branches on the database vendor, so what the
suite proves is what every run shows."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP_DIRS = ("config", "core", "credit", "payments", "warehouses", "platform")
ROOT_FILES = ("manage.py", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".html", ".txt", ".toml", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".conf", ".json", ".po"}
NAMES = {"Procfile", "Makefile", "Dockerfile"}
# Built from parts, so that this file does not mention what it looks for.
OTHER_ENGINE = re.compile("sq" + "lite", re.IGNORECASE)
VENDOR_BRANCH = re.compile(r"\.vendor\b|\bdifflib\b")


def tracked_files() -> list[Path]:
    listed = subprocess.run(  # noqa: S603
        ["git", "ls-files", "-z", "--", *APP_DIRS, *ROOT_FILES, "requirements*.txt"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / name for name in listed.split("\0") if name]


def is_app_file(path: Path) -> bool:
    return path.suffix in SUFFIXES or path.name in NAMES or path.name.startswith("Dockerfile")


def app_files() -> list[Path]:
    files = [path for path in tracked_files() if is_app_file(path) and path.is_file()]
    scanned = {path.relative_to(REPO).parts[0] for path in files}
    # Guard against a scan that silently finds nothing (a moved tree, a broken pattern).
    assert {"config", "credit", "payments", "warehouses", "platform", "manage.py"} <= scanned, scanned
    return files


def mentions(pattern: re.Pattern, files: list[Path]) -> list[tuple[Path, int]]:
    """(file, line number) of every line where `pattern` occurs."""
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if pattern.search(line):
                found.append((path, number))
    return found


def report(found: list[tuple[Path, int]]) -> str:
    return "\n".join(f"{path.relative_to(REPO)}:{number}" for path, number in found)


def test_no_file_of_app_code_mentions_another_database_engine():
    found = mentions(OTHER_ENGINE, app_files())
    assert not found, "PostgreSQL is the only engine; these lines name another:\n" + report(found)


def test_no_code_branches_on_the_database_vendor():
    found = mentions(VENDOR_BRANCH, [path for path in app_files() if path.suffix == ".py"])
    assert not found, "One engine, one code path; these lines branch on the vendor:\n" + report(found)


def test_the_scan_sees_a_mention_in_any_case(tmp_path):
    """The check itself can fail: a line naming the other engine, in any case, is found."""
    sample = tmp_path / "settings.py"
    engine = "django.db.backends." + "SQ" + "Lite3"
    sample.write_text(f'NAME = "entrepot"\nDATABASES = {{"default": {{"ENGINE": "{engine}"}}}}\n')
    assert mentions(OTHER_ENGINE, [sample]) == [(sample, 2)]
    assert mentions(VENDOR_BRANCH, [sample]) == []
