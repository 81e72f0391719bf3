"""Property-based API fuzzing with schemathesis over EVERY operation in /api/schema/.

Each operation gets generated requests as the public (valid data), and valid and invalid
data as a signed-in member (token), a regulator (token) and a payment provider (API key). No request may answer 5xx,
and every documented response must match its schema. New endpoints are covered as soon as
they appear in the schema; the examples per operation shrink as the API grows so the whole
run stays around a minute.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application

pytestmark = pytest.mark.django_db

# Generated requests per auth variant, spread over the operations. Fuzz deeper with
# ENTREPOT_FUZZ_BUDGET=5000 .venv/bin/pytest tests/foundation/test_schemathesis.py
BUDGET_PER_VARIANT = int(os.environ.get("ENTREPOT_FUZZ_BUDGET", "160"))
MAX_EXAMPLES, MIN_EXAMPLES = 25, 2
CHECKS = [not_a_server_error, response_schema_conformance]
# Invalid data matters where requests get past authentication; anonymous requests are mostly
# turned away before validation, so they get valid data only (invalid data costs ~3x more).
MODES = {
    "anonymous": [GenerationMode.POSITIVE],
    "member": [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    "regulator": [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    "api_key": [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
}


@pytest.fixture
def in_test_transaction():
    """Call the real WSGI application inside the test's transaction: like Django's test
    client, keep request_started/finished from closing the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(in_test_transaction):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    operations = list(schema.get_all_operations())
    broken = [str(result.err()) for result in operations if not _is_ok(result)]
    assert not broken, f"Operations schemathesis cannot use: {broken}"
    return schema, [result.ok() for result in operations]


def _is_ok(result) -> bool:
    try:
        result.ok()
    except Exception:  # noqa: BLE001 - schemathesis' Result raises the stored error
        return False
    return True


@pytest.fixture
def auth_headers(member, regulator, api_key):
    return {
        "anonymous": {},
        "member": {"Authorization": f"Token {Token.objects.create(user=member).key}"},
        "regulator": {"Authorization": f"Token {Token.objects.create(user=regulator).key}"},
        "api_key": {"Authorization": f"Api-Key {api_key[1]}"},
    }


def _fuzz(operation, *, headers: dict, modes: list, examples: int, failures: list) -> None:
    for mode in modes:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Nothing to make invalid (an operation without parameters or body).
            continue
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups; report all below
            failures.append(f"{operation.label} [{mode.value}]: {exc}")


@pytest.mark.parametrize("variant", ["anonymous", "member", "regulator", "api_key"])
def test_every_operation_survives_fuzzing(api_schema, auth_headers, variant):
    schema, operations = api_schema
    assert operations, "The API schema lists no operations"
    examples = max(MIN_EXAMPLES, min(MAX_EXAMPLES, BUDGET_PER_VARIANT // (2 * len(operations))))
    failures: list[str] = []
    for operation in operations:
        _fuzz(operation, headers=auth_headers[variant], modes=MODES[variant], examples=examples, failures=failures)
    assert not failures, "\n\n".join(failures)
