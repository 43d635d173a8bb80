"""deploy/k8s: every manifest is valid Kubernetes 1.30 (strict: no unknown field) and wired up.

Schema validation cannot see that a Service selects the Deployment's pods or that the grace
period covers the server's drain; those are checked here against the manifests and the code.
What only a real cluster proves is listed in docs/deploy-observability.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # the dev extra; offline schemas for each Kubernetes version
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: The oldest Kubernetes the manifests promise to work on (preStop `sleep` needs 1.30).
KUBERNETES_VERSION = "1.30.0"


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomization() -> dict[str, Any]:
    return _load(K8S / "kustomization.yaml")[0]


def _resources() -> dict[str, dict[str, Any]]:
    """``Kind/name`` -> resource, over every file kustomization.yaml lists."""
    found: dict[str, dict[str, Any]] = {}
    for name in _kustomization()["resources"]:
        for doc in _load(K8S / name):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_is_valid_strict_kubernetes(path: Path) -> None:
    docs = _load(path)
    assert docs, f"{path} holds no resource"
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    deployment = _resources()["Deployment/skyroute-server"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_of_the_folder() -> None:
    listed = set(_kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
    kinds = {key.split("/")[0] for key in _resources()}
    assert kinds >= {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ConfigMap", "Secret", "Job",
    }  # fmt: skip


def _server() -> tuple[dict[str, Any], dict[str, Any]]:
    pod = _resources()["Deployment/skyroute-server"]["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def test_probes_use_healthz_and_readyz_on_the_served_port() -> None:
    _, container = _server()
    config = _resources()["ConfigMap/skyroute-config"]["data"]
    port = container["ports"][0]
    assert port["containerPort"] == int(config["ML_SERVER_PORT"])
    assert config["ML_SERVER_HOST"] == "0.0.0.0"  # the default 127.0.0.1 is unreachable
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]


def test_grace_period_covers_pre_stop_and_the_servers_drain() -> None:
    from skyroute.cli.serve import DRAIN_SECONDS

    pod, container = _server()
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + DRAIN_SECONDS


def test_server_and_job_run_non_root_read_only_without_capabilities() -> None:
    resources = _resources()
    job = resources["Job/skyroute-migrate"]["spec"]["template"]["spec"]
    pod, _ = _server()
    for spec in (pod, job):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "memory" in container["resources"]["limits"]
            assert "cpu" in container["resources"]["requests"]


def test_writable_paths_are_empty_dirs() -> None:
    pod, container = _server()
    config = _resources()["ConfigMap/skyroute-config"]["data"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for path in (config["SKYROUTE_DATA_DIR"], config["PROMETHEUS_MULTIPROC_DIR"], "/tmp"):
        assert mounts.get(path) in empty_dirs, f"{path} is not a writable emptyDir"


def test_migration_job_runs_the_migrate_only_command_with_the_servers_settings() -> None:
    from typer.main import get_command

    from skyroute.cli.main import app

    job = _resources()["Job/skyroute-migrate"]["spec"]["template"]["spec"]
    container = job["containers"][0]
    program, *args = container["command"]
    assert program == "skyroute"
    group: Any = get_command(app)
    for arg in args:  # the command exists in the CLI, word by word
        group = group.commands[arg]
    assert args == ["db", "upgrade"]
    _, server = _server()
    assert container["envFrom"] == server["envFrom"]
    assert container["image"] == server["image"]


def test_selectors_match_the_servers_pods() -> None:
    resources = _resources()
    labels = resources["Deployment/skyroute-server"]["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    assert selects(resources["Deployment/skyroute-server"]["spec"]["selector"]["matchLabels"])
    assert selects(resources["Service/skyroute-server"]["spec"]["selector"])
    assert selects(
        resources["PodDisruptionBudget/skyroute-server"]["spec"]["selector"]["matchLabels"]
    )
    policy = resources["NetworkPolicy/skyroute-server"]["spec"]
    assert selects(policy["podSelector"]["matchLabels"])
    assert resources["Service/skyroute-server"]["spec"]["ports"][0]["targetPort"] == "http"
    assert resources["HorizontalPodAutoscaler/skyroute-server"]["spec"]["scaleTargetRef"][
        "name"
    ] == ("skyroute-server")


def test_network_policy_admits_the_port_and_reaches_dns_postgres_and_redis() -> None:
    policy = _resources()["NetworkPolicy/skyroute-server"]["spec"]
    _, container = _server()
    ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert ingress_ports == {container["ports"][0]["containerPort"]}
    egress = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP")} <= egress


def test_hpa_scales_on_cpu_and_the_decisions_rate_the_adapter_serves() -> None:
    hpa = _resources()["HorizontalPodAutoscaler/skyroute-server"]["spec"]
    kinds = {m["type"] for m in hpa["metrics"]}
    assert kinds == {"Resource", "Pods"}
    pods_metric = next(m for m in hpa["metrics"] if m["type"] == "Pods")["pods"]["metric"]["name"]
    adapter = _load(K8S / "prometheus-adapter" / "adapter-config.yaml")[0]
    rules = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
    served = {rule["name"]["as"] for rule in rules}
    assert pods_metric in served
    rule = next(r for r in rules if r["name"]["as"] == pods_metric)
    from skyroute.serve.metrics import Metrics

    assert rule["seriesQuery"].startswith(Metrics.create().decisions._name + "_total")
    assert hpa["minReplicas"] >= 2  # the PDB's minAvailable: 1 leaves room to drain a node


def test_secret_placeholders_are_marked_and_refused_in_production() -> None:
    from skyroute.serve.settings import placeholder_reason

    resources = _resources()
    secret = resources["Secret/skyroute-secrets"]["stringData"]
    assert all("CHANGE-ME" in value for value in secret.values())
    assert placeholder_reason(secret["SKYROUTE_ADMIN_TOKEN"]) is not None
    assert resources["ConfigMap/skyroute-config"]["data"]["SKYROUTE_ENV"] == "production"
