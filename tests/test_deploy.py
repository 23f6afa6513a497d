"""deploy/: the Dockerfile, compose file, Kubernetes manifests and systemd units are well-formed and agree
with the hub (its routes, its settings, its shutdown grace). The Kubernetes core kinds are validated against
the Kubernetes OpenAPI schemas bundled by `kubernetes-validate` (offline); the image is not built here."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
SETTINGS_SOURCE = ROOT / "hub" / "settings.py"
KUBE_VERSIONS = ("1.30.0", "1.33.0")
CORE_KINDS = {"Deployment", "Job", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Namespace"}
HUB_VAR = re.compile(r"\bHUB_[A-Z0-9_]+\b")


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(KUBE.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in _documents(path)
    ]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _manifests() if doc["kind"] == kind]


def _deployment(name: str) -> dict[str, Any]:
    (found,) = [doc for doc in _by_kind("Deployment") if doc["metadata"]["name"] == name]
    return found


def _config() -> dict[str, str]:
    (config_map,) = _by_kind("ConfigMap")
    return dict(config_map["data"])


def _settings_variables() -> set[str]:
    return set(HUB_VAR.findall(SETTINGS_SOURCE.read_text("utf-8")))


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    workloads = _by_kind("Deployment") + _by_kind("Job")
    return [(doc["metadata"]["name"], doc["spec"]["template"]["spec"]) for doc in workloads]


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert len(files) >= 10
    for path in files:
        assert _documents(path), f"{path} is empty"


def test_each_manifest_names_its_api_version_kind_and_name() -> None:
    manifests = _manifests()
    assert {doc["kind"] for _, doc in manifests} >= CORE_KINDS | {"Cluster"}
    for path, doc in manifests:
        assert doc.get("apiVersion"), path
        assert doc.get("kind"), path
        assert doc.get("metadata", {}).get("name"), path
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "referral-hub", path


def test_the_core_kinds_conform_to_the_kubernetes_openapi_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    checked = set()
    for path, doc in _manifests():
        if doc["kind"] not in CORE_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:  # pragma: no cover - the message is the point
                pytest.fail(
                    f"{path.name} {doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {exc}"
                )
        checked.add(doc["kind"])
    assert checked == CORE_KINDS


def test_kustomization_lists_every_manifest_but_the_secret_placeholders() -> None:
    (kustomization,) = _documents(KUBE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {path.name for path in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secrets.example.yaml"}
    assert all((KUBE / name).is_file() for name in listed)


def test_secrets_are_placeholders_created_out_of_band() -> None:
    secrets = _by_kind("Secret")
    assert {secret["metadata"]["name"] for secret in secrets} == {"hub-keys", "hub-db-credentials"}
    for secret in secrets:
        for value in secret["stringData"].values():
            assert value == "hub" or value.startswith("REPLACE-"), value
    referenced = set()
    for _, spec in _pod_specs():
        referenced |= {vol["secret"]["secretName"] for vol in spec.get("volumes", []) if "secret" in vol}
        for container in spec["containers"]:
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
    assert referenced == {"hub-keys", "hub-db-credentials"}


def test_the_hub_deployment_is_replicated_probed_bounded_and_unprivileged() -> None:
    hub = _deployment("hub")
    assert hub["spec"]["replicas"] >= 2
    spec = hub["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    grace = float(_config()["HUB_SHUTDOWN_GRACE_SECONDS"])
    assert spec["terminationGracePeriodSeconds"] > grace
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    keys_dir = mounts["/etc/referral-hub/keys"]
    assert volumes[keys_dir]["secret"]["secretName"] == "hub-keys"
    config = _config()
    assert config["HUB_SIGNING_KEY_FILE"].startswith("/etc/referral-hub/keys/")
    assert config["HUB_STORAGE_KEY_FILE"].startswith("/etc/referral-hub/keys/")
    assert config["HUB_DATABASE_URL"].startswith("postgresql://")
    assert "@" in config["HUB_DATABASE_URL"]
    assert ":" not in config["HUB_DATABASE_URL"].split("@")[0].removeprefix("postgresql://"), "no password"


@pytest.mark.parametrize("name", ["hub", "hub-worker", "hub-migrate"])
def test_every_pod_runs_non_root_read_only_with_resources(name: str) -> None:
    (spec,) = [spec for workload, spec in _pod_specs() if workload == name]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    if name != "hub-migrate":
        assert spec["terminationGracePeriodSeconds"] > float(_config()["HUB_SHUTDOWN_GRACE_SECONDS"])
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert any(mount["mountPath"] == "/tmp" for mount in container["volumeMounts"])


def test_the_migration_job_runs_hub_migrate() -> None:
    (job,) = _by_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_the_disruption_budget_and_service_select_the_hub_pods() -> None:
    (pdb,) = _by_kind("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    labels = _deployment("hub")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (service,) = _by_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()


def test_the_cloudnativepg_cluster_is_highly_available() -> None:
    (cluster,) = _by_kind("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] >= 3
    assert cluster["spec"]["storage"]["size"]
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"], initdb["secret"]["name"]) == (
        "hub",
        "hub",
        "hub-db-credentials",
    )
    assert _config()["HUB_DATABASE_URL"].startswith(f"postgresql://hub@{cluster['metadata']['name']}-rw:")


def test_probe_paths_are_routes_of_the_hub() -> None:
    from aiohttp import web

    from hub.api.routes import add_routes

    app = web.Application()
    add_routes(app)
    registered = {
        route.resource.canonical for route in app.router.routes() if route.method == "GET" and route.resource
    }
    paths = set()
    for _, doc in _manifests():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    if probe in container:
                        paths.add(container[probe]["httpGet"]["path"])
    assert paths == {"/readyz", "/healthz"}
    assert paths <= registered


def test_every_hub_variable_set_by_the_deployment_files_is_a_setting() -> None:
    known = _settings_variables()
    assert {"HUB_DATABASE_URL", "HUB_SIGNING_KEY_FILE", "HUB_STORAGE_KEY_FILE"} <= known
    used: set[str] = set()
    for path in [*KUBE.glob("*.yaml"), DEPLOY / "compose.yaml", DEPLOY / "Dockerfile"]:
        text = "\n".join(line.split("#", 1)[0] for line in path.read_text("utf-8").splitlines())
        used |= set(HUB_VAR.findall(text))
    used -= {"HUB_DB_PASSWORD"}  # compose's own .env variable, not the hub's
    assert used, "no HUB_* variable found"
    assert used <= known, f"unknown settings: {sorted(used - known)}"


def test_compose_runs_two_hubs_after_a_one_shot_migration() -> None:
    (compose,) = _documents(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:18"
    assert services["postgres"]["healthcheck"]["test"]
    assert any(volume.startswith("pgdata:") for volume in services["postgres"]["volumes"])
    assert services["migrate"]["command"] == ["migrate"]
    hub = services["hub"]
    assert hub["deploy"]["replicas"] >= 2
    assert hub["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert hub["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(hub["healthcheck"]["test"])
    assert set(hub["secrets"]) == {"hub_signing_key", "hub_storage_key"}
    assert hub["environment"]["HUB_SIGNING_KEY_FILE"] == "/run/secrets/hub_signing_key"
    assert hub["environment"]["HUB_STORAGE_KEY_FILE"] == "/run/secrets/hub_storage_key"
    assert hub["environment"]["HUB_DATABASE_URL"].startswith("postgresql://")
    assert "HUB_ID" in hub["environment"]
    assert set(compose["secrets"]) == {"hub_signing_key", "hub_storage_key"}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_is_multi_stage_non_root_and_enters_hub() -> None:
    instructions = _dockerfile_instructions()
    stages = [arg for op, arg in instructions if op == "FROM"]
    assert len(stages) >= 2
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [arg for op, arg in final if op == "USER"]
    assert users
    assert users[-1].split(":")[0] == "10001"
    assert ("ENTRYPOINT", '["hub"]') in final
    assert ("CMD", '["serve", "--host", "0.0.0.0"]') in final
    (healthcheck,) = [arg for op, arg in final if op == "HEALTHCHECK"]
    assert "urllib" in healthcheck
    assert "/healthz" in healthcheck
    env = " ".join(arg for op, arg in instructions if op in ("ENV", "ARG"))
    assert not re.search(r"(PASSWORD|SECRET|TOKEN|HUB_DATABASE_URL)", env), "no secret baked in"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    assert ignore.index("*") < ignore.index("!hub/"), "ignore everything, then admit the sources"
    assert "**/*.jwk" in ignore


@pytest.mark.parametrize("unit", ["referral-hub.service", "referral-hub-worker.service"])
def test_the_systemd_units_are_hardened(unit: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / unit, encoding="utf-8")
    service = parser["Service"]
    assert service["User"] == "referral-hub"
    assert service["EnvironmentFile"] == "/etc/referral-hub/env"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    assert "/var/lib/referral-hub" in service["ReadWritePaths"].split()
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    timeout = float(service["TimeoutStopSec"].removesuffix("s"))
    assert timeout > float(_config()["HUB_SHUTDOWN_GRACE_SECONDS"])
    command = "worker" if "worker" in unit else "serve"
    assert service["ExecStart"].split()[-1] == command
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_the_alert_rules_watch_metrics_the_hub_exposes() -> None:
    """Issue 16.9: a parked destination pages someone. Every rule is well formed and names only metrics
    the hub's registry defines, so a renamed metric cannot silently disable an alert."""
    from hub.api.metrics import HubMetrics

    exposed = {sample.name for family in HubMetrics().registry.collect() for sample in family.samples} | {
        family.name for family in HubMetrics().registry.collect()
    }
    (document,) = _documents(DEPLOY / "prometheus" / "alerts.yaml")
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {"ReferralHubDestinationParked"}
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"], rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        names = set(re.findall(r"\bhub_[a-z_]+", rule["expr"]))
        assert names, rule["alert"]
        assert names <= exposed, (rule["alert"], names - exposed)
    parked = next(r for r in rules if r["alert"] == "ReferralHubDestinationParked")
    assert "hub_destinations_parked" in parked["expr"]
