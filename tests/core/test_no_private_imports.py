"""Import rules that import-linter cannot express (the others are in .importlinter).

1. No private name (`_x`) is imported from another module. A private module (`_common.py`)
   may be imported only from inside its own package.
2. A service imports a task only to enqueue it: a name imported from a `tasks` module is
   only ever enqueued (`x_task.delay(...)`, `x_task.apply_async(...)`, or handed to
   `outbox.publish(x_task, ...)`), never called in-process.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "credit", "payments", "warehouses")
TASK_MODULES = {"credit.tasks", "payments.tasks", "warehouses.tasks"}  # core.tasks is the retry policy, no task
ENQUEUE_METHODS = {"delay", "apply_async", "s", "si", "signature"}
ENQUEUE_FUNCTIONS = {"publish"}


@dataclass(frozen=True)
class Source:
    path: Path
    module: str  # dotted name: credit.services.ratings
    package: str  # the package it lives in: credit.services
    tree: ast.Module


def _sources() -> list[Source]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                module = ".".join(parts[:-1])
                package = module
            else:
                module = ".".join(parts)
                package = ".".join(parts[:-1])
            found.append(Source(path, module, package, ast.parse(path.read_text(), filename=str(path))))
    return found


SOURCES = _sources()
FIRST_PARTY_MODULES = {source.module for source in SOURCES}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(source: Source, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private_module_part(dotted: str) -> str | None:
    """The package that owns the first private part of `dotted` (`payments.services` for
    `payments.services._common.x`), or None if no part is private."""
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        if _is_private(part):
            return ".".join(parts[:index])
    return None


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _private_import_violations() -> list[str]:
    violations = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(source, node)
                targets = [(base, alias.name) for alias in node.names]
            else:
                continue
            for module, name in targets:
                if module.split(".")[0] not in APPS:
                    continue  # the rule is about our own modules
                where = f"{source.path.relative_to(ROOT)}:{node.lineno}"
                owner = _private_module_part(module)
                if owner is not None and not _inside(source.module, owner):
                    violations.append(f"{where} imports the private module {module}")
                if name is None or not _is_private(name):
                    continue
                if f"{module}.{name}" in FIRST_PARTY_MODULES:
                    # `from pkg import _mod`: a private module, fine from inside pkg.
                    if not _inside(source.module, module):
                        violations.append(f"{where} imports the private module {module}.{name}")
                elif module != source.module:
                    violations.append(f"{where} imports the private name {name} from {module}")
    return violations


def _task_names(source: Source) -> dict[str, list[str] | None]:
    """Names bound in `source` to a task of ours (None), or to a module through which a
    tasks module is reached (the attributes that lead to it: [] for `from credit import
    tasks`, ["tasks"] for `import credit.tasks`)."""
    names = {}
    for node in ast.walk(source.tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(source, node)
            for alias in node.names:
                if module in TASK_MODULES:
                    names[alias.asname or alias.name] = None
                elif f"{module}.{alias.name}" in TASK_MODULES:
                    names[alias.asname or alias.name] = []
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in TASK_MODULES:
                    parts = alias.name.split(".")
                    names[alias.asname or parts[0]] = [] if alias.asname else parts[1:]
    return names


def _enqueue_only_violations() -> list[str]:
    violations = []
    for source in SOURCES:
        if source.module in TASK_MODULES or source.module.split(".")[0] == "config":
            continue  # tasks call each other's services; config wires tasks by name
        names = _task_names(source)
        if not names:
            continue
        parents = {child: parent for parent in ast.walk(source.tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(source.tree):
            if not (isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load)):
                continue
            task, path = node, names[node.id]
            if path is not None:  # a module: follow the attributes to the tasks module, then the task
                for attr in [*path, None]:
                    parent = parents.get(task)
                    if not isinstance(parent, ast.Attribute) or (attr is not None and parent.attr != attr):
                        task = None  # another module of the package (`credit.models`): not a task
                        break
                    task = parent
                if task is None:
                    continue
            parent = parents.get(task)
            if isinstance(parent, ast.Attribute) and parent.attr in ENQUEUE_METHODS:
                continue
            if isinstance(parent, ast.Call) and task in parent.args[:1]:
                func = parent.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called in ENQUEUE_FUNCTIONS:
                    continue
            where = f"{source.path.relative_to(ROOT)}:{node.lineno}"
            violations.append(f"{where} uses the task {ast.unparse(task)} other than to enqueue it")
    return violations


def test_no_private_name_is_imported_from_another_module():
    assert _private_import_violations() == []


def test_a_task_imported_outside_tasks_is_only_enqueued():
    assert _enqueue_only_violations() == []


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        ("credit.web.views", "from config.api import _flatten\n", ["private name _flatten from config.api"]),
        ("credit.web.views", "from .forms import _helper\n", ["private name _helper from credit.web.forms"]),
        ("warehouses.services.x", "from payments.services._common import y\n", ["private module"]),
        ("payments.services.x", "from payments.services._common import y\n", []),
        ("payments.services.x", "from ._common import y\n", []),
        ("credit.web.views", "from config.api import Pagination\n", []),
        ("credit.web.views", "from django.utils import _os\n", []),
        ("credit.web.views", "from credit.models import __all__\n", []),
    ],
)
def test_the_private_rule_sees_what_it_should(module, code, expected, monkeypatch):
    """The checker itself: a rule that cannot fail would be a defect."""
    package = module.rsplit(".", 1)[0]
    source = Source(ROOT / (module.replace(".", "/") + ".py"), module, package, ast.parse(code))
    monkeypatch.setattr(f"{__name__}.SOURCES", [source])
    monkeypatch.setattr(f"{__name__}.FIRST_PARTY_MODULES", FIRST_PARTY_MODULES | {"payments.services._common"})
    found = _private_import_violations()
    assert len(found) == len(expected)
    for message, fragment in zip(found, expected, strict=True):
        assert fragment in message


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("from credit.tasks import t\ndef f():\n    outbox.publish(t, args=[1])\n", True),
        ("from credit.tasks import t\ndef f():\n    transaction.on_commit(partial(t.delay, 1))\n", True),
        ("from credit.tasks import t\ndef f():\n    t(1)\n", False),
        ("from credit import tasks\ndef f():\n    tasks.t(1)\n", False),
        ("from credit import tasks\ndef f():\n    tasks.t.delay(1)\n", True),
        ("import credit.tasks\ndef f():\n    credit.tasks.t.apply_async([1])\n", True),
        ("import credit.tasks\ndef f():\n    credit.tasks.t(1)\n", False),
        ("import credit.tasks\ndef f():\n    credit.models.Subject()\n", True),
        ("from payments.tasks import t\ndef f():\n    outbox.publish(other, t)\n", False),
        ("from core.tasks import retried_task\n@retried_task(name='x')\ndef f():\n    pass\n", True),
    ],
)
def test_the_enqueue_rule_sees_what_it_should(code, ok, monkeypatch):
    source = Source(ROOT / "credit/services/x.py", "credit.services.x", "credit.services", ast.parse(code))
    monkeypatch.setattr(f"{__name__}.SOURCES", [source])
    assert (_enqueue_only_violations() == []) is ok
