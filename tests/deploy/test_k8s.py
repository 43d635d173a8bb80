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


#: API groups of custom resources (KEDA's) that Kubernetes' schemas do not hold: checked by
#: structure in ``test_keda_example_uses_the_metrics_api_scalers_documented_fields``.
CRD_GROUPS = ("keda.sh/",)
EXAMPLES = K8S / "examples"


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_is_valid_strict_kubernetes(path: Path) -> None:
    docs = _load(path)
    assert docs, f"{path} holds no resource"
    for doc in docs:
        if not doc["apiVersion"].startswith(CRD_GROUPS):
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


def _adapter_rules(kind: str) -> list[dict[str, Any]]:
    adapter = _load(K8S / "prometheus-adapter" / "adapter-config.yaml")[0]
    rules: list[dict[str, Any]] = yaml.safe_load(adapter["data"]["config.yaml"])[kind]
    return rules


def test_the_example_hpa_scales_to_the_recommended_replicas_the_adapter_serves() -> None:
    from skyroute.serve.recommendation_gauge import LABELS, NAME

    (hpa,) = _load(EXAMPLES / "hpa-recommended-replicas.yaml")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    external = metric["external"]
    assert external["metric"]["name"] == NAME
    assert set(external["metric"]["selector"]["matchLabels"]) == set(LABELS)
    # desired = ceil(value / averageValue): with 1, the recommendation itself.
    assert external["target"] == {"type": "AverageValue", "averageValue": "1"}
    served = {rule["name"]["as"]: rule for rule in _adapter_rules("externalRules")}
    rule = served[NAME]
    assert rule["seriesQuery"].startswith(NAME + "{")
    assert rule["resources"] == {"namespaced": False}  # the HPA lives in the user's namespace
    assert all(label in rule["metricsQuery"] for label in LABELS)
    assert NAME not in {r["name"]["as"] for r in _adapter_rules("rules")}
    listed = set(_kustomization()["resources"])
    assert not any(name.startswith("examples") for name in listed)  # the user's workload


#: The ScaledObject, trigger and metrics-api fields KEDA documents (keda.sh/docs/2.15,
#: "Scaling Deployments" and the "Metrics API" scaler).
SCALED_OBJECT_SPEC = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
TRIGGER_FIELDS = {"type", "metadata", "authenticationRef", "metricType", "name", "useCachedMetrics"}
METRICS_API_METADATA = {
    "url", "format", "valueLocation", "targetValue", "activationTargetValue", "unsafeSsl",
    "authMode", "method", "keyParamName",
}  # fmt: skip


def test_keda_example_uses_the_metrics_api_scalers_documented_fields() -> None:
    from skyroute.serve.autoscale_schemas import RecommendationOut
    from skyroute.serve.routes.autoscale import router

    docs = {doc["kind"]: doc for doc in _load(EXAMPLES / "keda-recommended-replicas.yaml")}
    assert set(docs) == {"Secret", "TriggerAuthentication", "ScaledObject"}
    spec = docs["ScaledObject"]["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC
    assert {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "triggers"} <= set(spec)
    assert set(spec["scaleTargetRef"]) <= {"name", "apiVersion", "kind", "envSourceContainerName"}
    (trigger,) = spec["triggers"]
    assert set(trigger) <= TRIGGER_FIELDS and trigger["type"] == "metrics-api"
    metadata = trigger["metadata"]
    assert set(metadata) <= METRICS_API_METADATA
    assert all(isinstance(v, str) for v in metadata.values())  # KEDA's metadata is strings
    # targetValue 1 with KEDA's AverageValue: scale to the value itself.
    assert metadata["targetValue"] == "1" and trigger.get("metricType", "AverageValue") == (
        "AverageValue"
    )
    assert metadata["valueLocation"] in RecommendationOut.model_fields
    assert RecommendationOut.model_fields[metadata["valueLocation"]].annotation is int
    # Bearer auth: the TriggerAuthentication's `token` comes from the Secret's key.
    assert metadata["authMode"] == "bearer"
    auth = docs["TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "token" and ref["name"] == docs["Secret"]["metadata"]["name"]
    assert ref["key"] in docs["Secret"]["stringData"]
    # The URL is the server's Service in its namespace and a route the app serves.
    host, _, path = metadata["url"].removeprefix("http://").partition("/")
    service = _resources()["Service/skyroute-server"]
    assert host == f"{service['metadata']['name']}.{_kustomization()['namespace']}.svc"
    assert service["spec"]["ports"][0]["port"] == 80
    template = "/" + path.replace("/series/web/", "/series/{name}/")
    assert template in {getattr(r, "path", None) for r in router.routes}
