import pytest
from rest_framework.test import APIClient

from payments.models import ProviderAPIKey
from tests.factories import MembershipFactory, RegulatorFactory, StaffFactory, SubjectFactory, UserFactory


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def member():
    """A user who owns a merchant subject: `member.subject` is that subject."""
    membership = MembershipFactory()
    user = membership.user
    user.subject = membership.subject
    return user


@pytest.fixture
def regulator():
    return RegulatorFactory()


@pytest.fixture
def staff_user():
    return StaffFactory()


@pytest.fixture
def institution():
    return SubjectFactory(is_merchant=False, is_payment_institution=True, legal_name="Test Pay Ltd")


@pytest.fixture
def api_key(institution):
    """(key object, full secret) for a payment institution with every scope."""
    return ProviderAPIKey.objects.create_key(
        name="test", institution=institution, scopes=list(ProviderAPIKey.Scope.values)
    )


@pytest.fixture
def client_for(api_client):
    """An API client authenticated as a user (session) or with an API key secret."""

    def make(who):
        client = APIClient()
        if isinstance(who, str):
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who}")
        elif who is not None:
            client.force_login(who)
        return client

    return make


@pytest.fixture
def other_member():
    membership = MembershipFactory()
    user = membership.user
    user.subject = membership.subject
    return user


# The concurrency tests that `make test` runs a second time through a real PgBouncer in
# transaction pooling (`make test-pgbouncer`, marker `pgbouncer`): production's connection
# path, where nothing may keep session state past a transaction.
PGBOUNCER_MODULES = {
    "tests/foundation/test_pgbouncer.py",  # proves the run really goes through PgBouncer
    "tests/warehouses/test_race.py",  # the lease race
    "tests/warehouses/test_lifecycle_races.py",
    "tests/warehouses/test_escrow_race.py",
    "tests/payments/test_escrow_race.py",
    "tests/payments/test_webhook_endpoint_race.py",  # the endpoint before its deliveries
    "tests/warehouses/test_lease_idempotency.py",
    "tests/payments/test_payment_report_idempotency.py",
    "tests/core/test_idempotency.py",
    "tests/credit/test_hotpath.py",  # advisory and SET LOCAL statements end with their transaction
    "tests/credit/test_recompute.py",  # chunked full run: fan-out, bucket locks
    "tests/credit/test_blacklist_recompute_race.py",  # the subject before its recompute request
    "tests/integration/test_grade_recompute.py",  # the fan-out through a real worker
    "tests/payments/test_domain_event_gaps.py",
}


def pytest_collection_modifyitems(config, items):
    root = config.rootpath
    for item in items:
        if item.path.relative_to(root).as_posix() in PGBOUNCER_MODULES:
            item.add_marker(pytest.mark.pgbouncer)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test's teardown flushes every table, including the reference data
    migration 0002 loads (event kinds, scoring model v1). Put it back for later tests.

    This runs after the test's fixtures are torn down: an autouse fixture would run its
    teardown *before* pytest-django's database fixture flushes, and restore nothing."""
    yield
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server", "django_db_reset_sequences"} & set(getattr(item, "fixturenames", ()))
    )
    if transactional:
        from pytest_django.plugin import blocking_manager_key

        from credit.services.ratings import ensure_scoring_catalogue

        with item.config.stash[blocking_manager_key].unblock():
            ensure_scoring_catalogue()


__all__ = ["UserFactory"]


@pytest.fixture(autouse=True)
def _broker_failure_forgotten():
    """A test that simulates Redis being down must not make the next test's publishes
    skip the broker (core.outbox backs off for a few seconds after a failure)."""
    from core import outbox

    outbox.reset()
    yield
    outbox.reset()
