"""Contract, More than one machine: the parts on paper (container image, Kubernetes), and the
settings that switch the topology on, checked offline.
"""

import fnmatch
import json
import os
import re
import runpy
import subprocess
import sys

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from django.conf import settings

from conftest import BASE_DIR

DOCKERFILE = (BASE_DIR / "Dockerfile").read_text()
DOCKERIGNORE = [
    line.strip()
    for line in (BASE_DIR / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
K8S = BASE_DIR / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
GUNICORN = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))


def manifests():
    return [
        doc
        for name in KUSTOMIZATION["resources"]
        for doc in yaml.safe_load_all((K8S / name).read_text())
    ]


def one(kind, name):
    return next(m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name)


def ignored(path):
    """Whether .dockerignore keeps `path` out of the build: as Docker reads it, the last
    pattern that matches the path (or a folder above it) decides, and `!` lets it in."""
    verdict = False
    for pattern in DOCKERIGNORE:
        bare = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
            verdict = not pattern.startswith("!")
    return verdict


def test_every_path_the_dockerfile_copies_exists_and_reaches_the_build():
    copies = re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.MULTILINE)
    sources = [path for line in copies for path in line.split()[:-1]]

    assert len(sources) >= 4
    for source in sources:
        assert (BASE_DIR / source).exists(), source
        assert not ignored(source.rstrip("/")), source


def test_the_image_builds_in_stages_collects_static_and_runs_the_gunicorn_config_as_non_root():
    stages = re.findall(r"^FROM \S+ AS (\w+)$", DOCKERFILE, re.MULTILINE)
    build, runtime = DOCKERFILE.split("AS runtime")

    assert stages == ["build", "runtime"]
    assert "manage.py collectstatic --noinput" in build
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert '"gunicorn", "--config", "gunicorn.conf.py"' in runtime


def test_no_env_file_and_no_secret_is_baked_into_the_image():
    assert ignored(".env")
    assert ignored("notes/tests")
    assert not re.search(r"^ENV .*SECRET_KEY", DOCKERFILE, re.MULTILINE)
    assert not re.search(r"^COPY \. ", DOCKERFILE, re.MULTILINE)


# CloudNativePG's custom resources: kubernetes-validate holds Kubernetes' own schemas
# only (it raises SchemaNotFoundError for these), so the fields their CRDs require, and
# the ones this deployment relies on, are checked by hand below.
CUSTOM_KINDS = {("postgresql.cnpg.io/v1", "Cluster"), ("postgresql.cnpg.io/v1", "Pooler")}


def test_the_kustomization_lists_every_manifest_and_each_is_valid_kubernetes():
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    own = [m for m in manifests() if (m["apiVersion"], m["kind"]) not in CUSTOM_KINDS]

    assert set(KUSTOMIZATION["resources"]) == files
    assert len(own) == len(manifests()) - 2
    for manifest in own:
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
    workloads = [m for m in manifests() if m["kind"] in {"Deployment", "Job"}]
    pods = [workload["spec"]["template"]["spec"] for workload in workloads]
    images = {container["image"] for pod in pods for container in pod["containers"]}
    assert images == {image["name"] for image in KUSTOMIZATION["images"]}


def test_the_probes_ask_for_health_with_a_host_that_allowed_hosts_lists():
    container = one("Deployment", "notes")["spec"]["template"]["spec"]["containers"][0]
    allowed = one("ConfigMap", "notes-settings")["data"]["ALLOWED_HOSTS"].split(",")

    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        (host,) = container[probe]["httpGet"]["httpHeaders"]
        assert host["name"] == "Host"
        assert host["value"] in allowed


def test_a_stopping_pod_gets_longer_than_prestop_and_gunicorns_graceful_stop():
    pod = one("Deployment", "notes")["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]

    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + GUNICORN["graceful_timeout"]


def test_migrations_run_in_a_job_on_the_direct_connection_and_pgbouncer_pools_transactions():
    job = one("Job", "notes-migrate")["spec"]["template"]["spec"]["containers"][0]
    pooler = one("Pooler", "notes-db-pooler-rw")["spec"]
    app_settings = one("ConfigMap", "notes-settings")["data"]

    assert job["command"][-2:] == ["migrate", "--noinput"]
    assert pooler["pgbouncer"]["poolMode"] == "transaction"
    # The app finds the pooler by itself (test_pgbouncer.py): no setting of its own for it.
    assert not [name for name in app_settings if name.startswith("DATABASE_")]


def test_postgresql_runs_as_a_primary_and_a_synchronous_replica_with_failover_by_the_operator():
    # By hand, what CloudNativePG's CRDs require (a Cluster's instances; a Pooler's
    # cluster and pgbouncer), and what this deployment relies on.
    cluster = one("Cluster", "notes-db")
    pooler = one("Pooler", "notes-db-pooler-rw")
    spec = cluster["spec"]
    synchronous = spec["postgresql"]["synchronous"]

    assert spec["instances"] == 2
    assert spec["storage"]["size"]
    assert synchronous["method"] in {"any", "first"}
    assert synchronous["number"] == 1
    # As with Patroni here: with the replica gone, the primary goes on alone.
    assert synchronous["dataDurability"] == "preferred"
    assert pooler["spec"]["cluster"]["name"] == "notes-db"
    assert pooler["spec"]["type"] == "rw"
    assert pooler["spec"]["instances"] >= 2
    # The request timeouts pgbouncer.ini's connect_query sets here, as role defaults.
    timeouts = " ".join(spec["bootstrap"]["initdb"]["postInitApplicationSQL"])
    for setting in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        assert f"ALTER ROLE notes SET {setting}" in timeouts


def test_the_budget_the_autoscaler_and_the_service_all_point_at_the_deployment():
    deployment = one("Deployment", "notes")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    hpa = one("HorizontalPodAutoscaler", "notes")["spec"]

    assert one("Service", "notes")["spec"]["selector"].items() <= labels.items()
    assert one("PodDisruptionBudget", "notes")["spec"]["selector"]["matchLabels"] == labels
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "notes"}
    assert hpa["minReplicas"] >= 2


def test_without_a_replica_url_no_router_or_middleware_touches_a_request():
    assert "replica" not in settings.DATABASES
    assert not settings.DATABASE_ROUTERS
    assert not any("read_your_writes" in name for name in settings.MIDDLEWARE)


@pytest.mark.parametrize("cursors", ["true", "false"])
def test_with_a_replica_url_reads_are_routed_and_the_replica_alias_is_configured(cursors):
    env = {
        **os.environ,
        "DATABASE_REPLICA_URL": "postgres://reader:secret@replica.example:5433/notes",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": cursors,
    }
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps([settings.DATABASES, settings.DATABASE_ROUTERS, settings.MIDDLEWARE],"
        " default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    databases, routers, middleware = json.loads(result.stdout)

    replica = databases["replica"]
    assert [replica[key] for key in ("HOST", "PORT", "USER")] == ["replica.example", 5433, "reader"]
    assert replica["TEST"]["MIRROR"] == "default"
    assert databases["default"]["DISABLE_SERVER_SIDE_CURSORS"] is (cursors == "true")
    assert routers == ["notes.replica.PrimaryReplicaRouter"]
    assert middleware[-1] == "notes.api.read_your_writes.ReadYourWritesMiddleware"
