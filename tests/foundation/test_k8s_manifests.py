"""platform/k8s/: every document validates against the Kubernetes API schemas (offline,
strict: an unknown or misspelt field fails), and the manifests keep the properties the
platform relies on: one worker per queue, one beat, probes that ignore Redis, an HPA on the
web, PgBouncer in transaction pooling, the migration Job straight to PostgreSQL, settings
from one ConfigMap and one Secret."""

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.urls import resolve
from kubernetes_validate import validate
from kubernetes_validate.utils import ValidationError

from config.celery import QUEUES

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "platform" / "k8s"
# The oldest Kubernetes release the manifests are meant for, and the newest schemas that
# the pinned kubernetes-validate (requirements-dev.txt) ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
APP_IMAGE = "registry.example.com/entrepot"
CONFIG_MAP = "entrepot-config"
SECRET = "entrepot-secrets"


def manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def load_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in manifest_files():
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append((path.name, document))
    return documents


DOCUMENTS = load_documents()


def find(kind: str, name: str | None = None) -> list[dict]:
    return [d for _, d in DOCUMENTS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(kind: str, name: str) -> dict:
    found = find(kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_specs() -> list[tuple[str, dict]]:
    """(workload name, pod spec) of every Deployment, StatefulSet and Job."""
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for _, d in DOCUMENTS
        if d["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]


def app_containers() -> list[tuple[str, dict]]:
    """(workload name, container) of every container running the Entrepot image."""
    return [
        (name, container)
        for name, spec in pod_specs()
        for container in [*spec.get("initContainers", []), *spec["containers"]]
        if container["image"].split(":")[0] == APP_IMAGE
    ]


def option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def config_data() -> dict:
    return one("ConfigMap", CONFIG_MAP)["data"]


def secret_data() -> dict:
    return one("Secret", SECRET)["stringData"]


# --- Schemas ---------------------------------------------------------------------------


def test_the_manifests_are_there():
    names = {path.name for path in manifest_files()}
    assert {"config.yaml", "secret.yaml", "web.yaml", "workers.yaml", "pgbouncer.yaml", "migrate.yaml"} <= names
    assert len(DOCUMENTS) >= 15


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "document", [d for _, d in DOCUMENTS], ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in DOCUMENTS]
)
def test_every_document_validates_strictly(document, version):
    try:
        validate(document, version, strict=True)
    except ValidationError as error:  # the default report prints the whole schema
        problem = f"{error.message} at {'.'.join(map(str, error.absolute_path))}"
    else:
        return
    pytest.fail(problem)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["spec"].update(replica=2),  # misspelt field
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(ports=[{"containerPort": "8000"}]),
        lambda d: d["spec"].pop("selector"),
    ],
    ids=["unknown-field", "wrong-type", "missing-required"],
)
def test_a_broken_manifest_fails_validation(mutate):
    """The validation is not a no-op: the schemas are found and strict."""
    broken = copy.deepcopy(one("Deployment", "entrepot-web"))
    mutate(broken)
    with pytest.raises(ValidationError):
        validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_once():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert sorted(resources) == sorted(path.name for path in manifest_files())
    assert len(set(resources)) == len(resources)
    assert resources[0] == "namespace.yaml"
    assert [image["name"] for image in kustomization["images"]] == [APP_IMAGE]


def test_everything_is_in_the_entrepot_namespace():
    namespaces = find("Namespace")
    assert [n["metadata"]["name"] for n in namespaces] == ["entrepot"]
    for _, document in DOCUMENTS:
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == "entrepot", document["metadata"]["name"]


# --- Celery ----------------------------------------------------------------------------


def celery_containers(subcommand: str) -> list[tuple[dict, dict]]:
    found = []
    for deployment in find("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            command = container.get("command", [])
            if command[:3] == ["celery", "-A", "config"] and command[3] == subcommand:
                found.append((deployment, container))
    return found


def test_one_worker_deployment_per_queue_consuming_exactly_that_queue():
    workers = celery_containers("worker")
    queues = []
    for deployment, container in workers:
        queue = option(container["command"], "-Q")
        assert queue is not None, f"{deployment['metadata']['name']} consumes no named queue"
        assert "," not in queue, f"{deployment['metadata']['name']} consumes several queues: {queue}"
        assert deployment["metadata"]["name"] == f"entrepot-worker-{queue}"
        assert deployment["spec"]["template"]["metadata"]["labels"]["entrepot/queue"] == queue
        assert deployment["spec"]["replicas"] >= 1
        queues.append(queue)
    assert sorted(queues) == sorted(QUEUES)


def test_exactly_one_beat_that_never_overlaps_itself():
    beats = celery_containers("beat")
    assert len(beats) == 1
    deployment, container = beats[0]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not find("HorizontalPodAutoscaler", deployment["metadata"]["name"])
    # The schedule file is written to a volume (the root file system is read-only).
    schedule = Path(option(container["command"], "--schedule"))
    assert any(schedule.parent == Path(m["mountPath"]) for m in container["volumeMounts"])


# --- Web -------------------------------------------------------------------------------


def web() -> tuple[dict, dict]:
    deployment = one("Deployment", "entrepot-web")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def test_web_runs_gunicorn_on_its_container_port():
    _, container = web()
    assert container["command"] == ["gunicorn", "-c", "platform/gunicorn.conf.py", "config.wsgi"]
    env = {e["name"]: e["value"] for e in container["env"]}
    port = container["ports"][0]["containerPort"]
    assert env["GUNICORN_BIND"] == f"0.0.0.0:{port}"
    service = one("Service", "entrepot-web")
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_web_probes_check_the_database_for_readiness_and_nothing_for_liveness():
    _, container = web()
    probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe", "startupProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/livez"
    assert probes["startupProbe"]["path"] == "/livez"
    assert resolve("/readyz").func.__name__ == "readyz"
    assert resolve("/livez").func.__name__ == "livez"
    allowed = [host.strip() for host in config_data()["DJANGO_ALLOWED_HOSTS"].split(",")]
    for probe in probes.values():
        assert probe["port"] == container["ports"][0]["name"]
        # Django refuses a Host not in ALLOWED_HOSTS; the kubelet would send the pod's IP.
        (header,) = probe["httpHeaders"]
        assert header["name"] == "Host"
        assert header["value"] in allowed


def test_web_is_scaled_by_an_hpa_on_cpu():
    deployment, container = web()
    (hpa,) = find("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "entrepot-web"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is measured against the request, and the HPA owns the replica count.
    assert container["resources"]["requests"]["cpu"]
    assert "replicas" not in deployment["spec"]


# --- Database --------------------------------------------------------------------------


def test_pgbouncer_pools_transactions_in_front_of_postgresql():
    deployment = one("Deployment", "entrepot-pgbouncer")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POOL_MODE"]["value"] == "transaction"
    assert env["DB_HOST"]["value"] == "entrepot-postgres"
    listen_port = int(env["LISTEN_PORT"]["value"])
    assert container["ports"][0]["containerPort"] == listen_port
    service = one("Service", "entrepot-pgbouncer")
    # The app's DATABASE_URL goes through PgBouncer's Service.
    url = urlsplit(secret_data()["DATABASE_URL"])
    assert url.scheme == "postgres"
    assert (url.hostname, url.port) == ("entrepot-pgbouncer", service["spec"]["ports"][0]["port"])


def test_the_migration_job_goes_straight_to_postgresql():
    job = one("Job", "entrepot-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] in {"Never", "OnFailure"}
    (container,) = spec["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    (database_url,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
    assert database_url["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "DATABASE_DIRECT_URL"}
    direct = urlsplit(secret_data()["DATABASE_DIRECT_URL"])
    postgres = one("Service", "entrepot-postgres")
    assert (direct.hostname, direct.port) == ("entrepot-postgres", postgres["spec"]["ports"][0]["port"])
    # Same database and user as the pooled URL: only the route differs.
    pooled = urlsplit(secret_data()["DATABASE_URL"])
    assert (direct.username, direct.password, direct.path) == (pooled.username, pooled.password, pooled.path)


def test_app_pods_wait_for_the_migrations():
    for deployment in find("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        if spec["containers"][0]["image"].split(":")[0] != APP_IMAGE:
            continue
        (init,) = spec["initContainers"]
        assert "manage.py migrate --check" in init["command"][-1], deployment["metadata"]["name"]


def test_postgresql_and_redis_are_there():
    assert one("StatefulSet", "entrepot-postgres")["spec"]["replicas"] == 1
    assert one("StatefulSet", "entrepot-redis")["spec"]["replicas"] == 1
    redis_url = urlsplit(config_data()["REDIS_URL"])
    assert (redis_url.hostname, redis_url.port) == (
        "entrepot-redis",
        one("Service", "entrepot-redis")["spec"]["ports"][0]["port"],
    )


# --- Settings --------------------------------------------------------------------------


def test_app_pods_take_their_settings_from_the_configmap_and_the_secret():
    containers = app_containers()
    assert len(containers) >= 2 * (len(QUEUES) + 2)  # web, workers and beat (+ their init), the Job
    for name, container in containers:
        sources = container.get("envFrom", [])
        assert {"configMapRef": {"name": CONFIG_MAP}} in sources, name
        assert {"secretRef": {"name": SECRET}} in sources, name
    config, secret = config_data(), secret_data()
    assert config["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # Production has no defaults for these (tests/foundation/test_project.py).
    for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"):
        assert (variable in config) != (variable in secret), f"{variable} must come from exactly one of them"
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "DATABASE_DIRECT_URL", "POSTGRES_PASSWORD"} <= set(secret)


def test_the_configmap_holds_nothing_secret():
    for key, value in config_data().items():
        assert not re.search(r"SECRET|PASSWORD|TOKEN", key), key
        assert "@" not in urlsplit(value).netloc, f"{key} carries credentials"


def test_the_secret_is_a_marked_placeholder():
    secret = one("Secret", SECRET)
    assert "data" not in secret  # stringData: readable, replaced before use
    assert "REPLACE-ME" in secret["stringData"]["DJANGO_SECRET_KEY"]
    password = secret["stringData"]["POSTGRES_PASSWORD"]
    assert password == "REPLACE-ME"
    for key in ("DATABASE_URL", "DATABASE_DIRECT_URL"):
        assert urlsplit(secret["stringData"][key]).password == password


def test_every_key_reference_resolves():
    config, secret = config_data(), secret_data()
    for name, spec in pod_specs():
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["name"] == CONFIG_MAP
                    assert ref["configMapKeyRef"]["key"] in config, (name, entry["name"])
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["name"] == SECRET
                    assert ref["secretKeyRef"]["key"] in secret, (name, entry["name"])


def test_every_service_selects_pods_on_a_named_port():
    templates = [d["spec"]["template"] for d in find("Deployment") + find("StatefulSet")]
    for service in find("Service"):
        selector = service["spec"]["selector"]
        matching = [t for t in templates if selector.items() <= t["metadata"]["labels"].items()]
        assert len(matching) == 1, service["metadata"]["name"]
        port_names = {p["name"] for c in matching[0]["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, service["metadata"]["name"]


def test_every_deployment_selector_matches_its_own_pods_only():
    workloads = find("Deployment") + find("StatefulSet")
    for workload in workloads:
        selector = workload["spec"]["selector"]["matchLabels"]
        matching = [w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert matching == [workload], workload["metadata"]["name"]


# --- Pods ------------------------------------------------------------------------------


def test_app_pods_run_as_the_images_non_root_user():
    dockerfile = (REPO / "platform" / "Dockerfile").read_text()
    uid = int(re.search(r"--uid (\d+)", dockerfile).group(1))
    for name, spec in pod_specs():
        images = {c["image"].split(":")[0] for c in spec["containers"]}
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        if APP_IMAGE in images:
            assert context["runAsUser"] == uid, name


def test_every_container_has_requests_and_a_memory_limit_and_no_privileges():
    for name, spec in pod_specs():
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), (name, container["name"])
            assert "memory" in resources["limits"], (name, container["name"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
