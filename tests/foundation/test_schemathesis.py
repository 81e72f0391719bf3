"""The API answers as its OpenAPI schema says, over EVERY operation in /api/schema/.

Against the demo world (`seed_demo`: subjects, grades, blacklist entries, appeals, listings,
leases, transfers, escrow, a compliant institution with its key, webhooks, screenings):

1. schemathesis generates requests for every operation as the public (valid data), and
   valid and invalid data as a merchant and a regulator (tokens) and a payment provider
   (API key);
2. every GET operation is also called with the id of each demo object its path names, as
   each of them, so that real objects (nullable fields, pages of results) are checked
   and not only the 4xx answers random ids get.

No request may answer 5xx, and every response must conform: a documented status code, a
documented content type (application/problem+json for errors), documented headers, and a
body that matches the documented schema. New endpoints are covered as soon as they appear
in the schema; the examples per operation shrink as the API grows so the run stays bounded
(about a minute on two cores). Fuzz deeper with
ENTREPOT_FUZZ_BUDGET=5000 .venv/bin/pytest tests/foundation/test_schemathesis.py
"""

import os
import re
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

pytestmark = pytest.mark.django_db

# Generated requests per auth variant, spread over the operations.
BUDGET_PER_VARIANT = int(os.environ.get("ENTREPOT_FUZZ_BUDGET", "160"))
MAX_EXAMPLES, MIN_EXAMPLES = 25, 2
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Invalid data matters where requests get past authentication; anonymous requests are mostly
# turned away before validation, so they get valid data only (invalid data costs ~3x more).
MODES = {
    "anonymous": [GenerationMode.POSITIVE],
    "merchant": [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
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
def api_schema(demo, in_test_transaction):
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
def demo(db):
    """The demo world, plus what it lacks for every read to have an object: a blacklist
    entry with an appeal and a repair application, a recompute run, a screening, a
    webhook endpoint with a delivery (and the API calls that made them)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from credit.models import Membership, Subject
    from payments.demo import DEMO_KEY

    call_command("seed_demo", stdout=StringIO())
    users = get_user_model().objects
    regulator, provider = Client(), Client(HTTP_AUTHORIZATION=f"Api-Key {DEMO_KEY}")
    regulator.force_login(users.get(username="regulator"))
    subject = Subject.objects.get(country="JP")
    entry = regulator.post(
        "/api/v1/credit/blacklist/entries/",
        {
            "subject_id": subject.pk,
            "category": "contract_default",
            "legal_basis": "Art. 12",
            "decision_reference": "FUZZ-1",
            "description": "Failed to deliver paid orders.",
            "severity": "minor",
        },
        content_type="application/json",
    )
    assert entry.status_code == 201, entry.content
    member = Client()
    owner = users.create_user("jp-owner", password="x")
    Membership.objects.create(user=owner, subject=subject, role=Membership.Role.OWNER)
    member.force_login(owner)
    entry_url = f"/api/v1/credit/blacklist/entries/{entry.json()['id']}"
    for path, body in [
        (f"{entry_url}/appeals/", {"challenge": "content", "grounds": "Wrong subject."}),
        (f"{entry_url}/repairs/", {"correction_evidence": "Refunded.", "commitment": "We commit."}),
    ]:
        answer = member.post(path, body, content_type="application/json")
        assert answer.status_code == 201, answer.content
    assert regulator.post("/api/v1/credit/recompute-runs/", {}, content_type="application/json").status_code == 202
    screening = provider.post(
        "/api/v1/screenings/",
        {"items": [{"name": "Albion"}, {"country": "BR", "registration_number": "12.345.678/0001-90"}]},
        content_type="application/json",
    )
    assert screening.status_code == 200, screening.content
    endpoint = provider.post(
        "/api/v1/webhook-endpoints/",
        {"url": "https://hooks.example.com/entrepot", "event_types": ["subject.grade_changed"]},
        content_type="application/json",
    )
    assert endpoint.status_code == 201, endpoint.content
    from payments.services import webhook_deliveries

    webhook_deliveries.enqueue_event(
        event_type="subject.grade_changed",
        institution_ids=[Subject.objects.get(registration_number="91110000MA0PAYX3C").pk],
        data={"subject_id": subject.pk},
    )


@pytest.fixture
def auth_headers(demo):
    from django.contrib.auth import get_user_model

    from payments.demo import DEMO_KEY

    users = get_user_model().objects
    return {
        "anonymous": {},
        "merchant": {"Authorization": f"Token {Token.objects.create(user=users.get(username='merchant')).key}"},
        "regulator": {"Authorization": f"Token {Token.objects.create(user=users.get(username='regulator')).key}"},
        "api_key": {"Authorization": f"Api-Key {DEMO_KEY}"},
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


@pytest.mark.parametrize("variant", ["anonymous", "merchant", "regulator", "api_key"])
def test_every_operation_survives_fuzzing(api_schema, auth_headers, variant):
    schema, operations = api_schema
    assert operations, "The API schema lists no operations"
    examples = max(MIN_EXAMPLES, min(MAX_EXAMPLES, BUDGET_PER_VARIANT // (2 * len(operations))))
    failures: list[str] = []
    for operation in operations:
        _fuzz(operation, headers=auth_headers[variant], modes=MODES[variant], examples=examples, failures=failures)
    assert not failures, "\n\n".join(failures)


def _demo_ids() -> dict[str, list[int]]:
    """Path parameter name -> ids of demo objects (at most three of each)."""
    from django.apps import apps

    def ids(label: str) -> list[int]:
        return list(apps.get_model(label).objects.order_by("pk").values_list("pk", flat=True)[:3])

    subjects = ids("credit.Subject")
    return {
        "id": subjects,
        "subject_id": subjects,
        "entry_id": ids("credit.BlacklistEntry"),
        "appeal_id": ids("credit.Appeal"),
        "repair_id": ids("credit.RepairApplication"),
        "run_id": ids("credit.RecomputeRun"),
        "event_id": ids("credit.CreditEvent"),
        "decision_id": ids("payments.ScreeningDecision"),
        "endpoint_id": ids("payments.WebhookEndpoint"),
        "licence_id": ids("payments.Licence"),
        "corridor_id": ids("payments.Corridor"),
        "account_id": ids("payments.ReserveAccount"),
        "listing_id": ids("warehouses.Listing"),
        "warehouse_id": ids("warehouses.Warehouse"),
        "lease_id": ids("warehouses.Lease"),
        "transfer_id": ids("warehouses.LeaseTransfer"),
        "dispute_id": ids("payments.Dispute"),
    }


def test_every_read_conforms_on_real_objects(api_schema, auth_headers):
    """Each GET operation, with the ids of demo objects in its path and no query, as each
    caller: pages of real results and real objects (nullable fields) match the schema."""
    _schema, operations = api_schema
    ids = _demo_ids()
    failures: list[str] = []
    calls = 0
    for operation in operations:
        if operation.method.upper() != "GET":
            continue
        names = re.findall(r"\{([^}]+)\}", operation.path)
        missing = [name for name in names if not ids.get(name)]
        assert not missing, f"{operation.label}: no demo object for {missing}"
        required = {p.name: _value_for(p) for p in operation.query if p.is_required}
        for n in range(max((len(ids[name]) for name in names), default=1)):
            path = {name: ids[name][min(n, len(ids[name]) - 1)] for name in names}
            for variant, headers in auth_headers.items():
                case = operation.Case(path_parameters=path, query=required)
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except BaseException as exc:  # noqa: BLE001 - report all below
                    failures.append(f"{operation.label} {path} as {variant}: {exc}")
                calls += 1
    assert calls > 100
    assert not failures, "\n\n".join(failures)


def _value_for(parameter):
    enum = (parameter.definition.get("schema") or {}).get("enum")
    return enum[0] if enum else "x"
