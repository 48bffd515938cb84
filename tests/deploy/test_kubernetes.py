"""deploy/kubernetes: rendered by `kubectl kustomize`, valid offline, carrying the repository's rules and dashboards.

Built-in objects are validated against the Kubernetes OpenAPI schemas shipped by
kubernetes-validate (no cluster); it has no schemas for the Prometheus Operator's
CRDs, so the PrometheusRule's groups go through promtool and the ServiceMonitor
is checked against the Service it must select.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, require_program

pytestmark = pytest.mark.integration  # every test here starts a server or a process

BASE = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes minor release still maintained when this was written, and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())
OPERATOR_KINDS = {"PrometheusRule", "ServiceMonitor"}


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    result = subprocess.run(
        [require_program("kubectl"), "kustomize", str(BASE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def the(rendered: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (resource,) = [document for document in rendered if document["kind"] == kind]
    return resource


def test_the_base_renders_the_exporter_its_scrape_its_rules_and_its_dashboards(rendered):
    kinds = sorted(document["kind"] for document in rendered)
    config_maps = 1 + len(list((ROOT / "grafana" / "dashboards").glob("*.json")))  # the config, one per dashboard
    assert kinds == ["ConfigMap"] * config_maps + ["Deployment", "PrometheusRule", "Service", "ServiceMonitor"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_object_is_valid_against_the_kubernetes_schemas(rendered, version):
    built_in = [document for document in rendered if document["kind"] not in OPERATOR_KINDS]
    for document in built_in:
        kubernetes_validate.validate(document, version, strict=True)  # raises with the offending path


def test_the_operator_objects_have_no_schema_in_the_tool_and_are_checked_below(rendered):
    for kind in OPERATOR_KINDS:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(the(rendered, kind), KUBERNETES_VERSIONS[-1], strict=True)


def test_a_broken_object_is_caught_by_the_validation(rendered):
    deployment = json.loads(json.dumps(the(rendered, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9700"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_exporter_runs_as_the_images_non_root_user_on_a_read_only_root(rendered):
    pod = the(rendered, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    dockerfile_user = next(
        line.split()[1] for line in (ROOT / "exporter" / "Dockerfile").read_text().splitlines() if line.startswith("USER ")
    )
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == dockerfile_user
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert container["image"] == "factorydash:0.1.0"
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {"/etc/factorydash": "config", "/tmp": "tmp"}


def test_the_deployment_reads_the_generated_config_and_the_config_is_valid(rendered, tmp_path):
    config_maps = {document["metadata"]["name"]: document for document in rendered if document["kind"] == "ConfigMap"}
    volumes = {volume["name"]: volume for volume in the(rendered, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    config_map = config_maps[volumes["config"]["configMap"]["name"]]  # kustomize rewrote the hashed name
    assert config_map["metadata"]["name"].startswith("factorydash-config-")
    config = tmp_path / "factorydash.yml"
    config.write_text(config_map["data"]["factorydash.yml"])
    container = the(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert f"--config.file=/etc/factorydash/{config.name}" in container["args"]
    check = subprocess.run(
        [sys.executable, "-m", "factorydash", f"--config.file={config}", "--config.check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_service_monitor_scrapes_the_service_that_selects_the_pods(rendered):
    pod_labels = the(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]
    service = the(rendered, "Service")
    monitor = the(rendered, "ServiceMonitor")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    container_ports = {port["name"] for port in the(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
    # The alerts find the exporter as job="factorydash": the operator's job label is the Service's name.
    assert service["metadata"]["name"] == "factorydash"
    expressions = [rule["expr"] for group in the(rendered, "PrometheusRule")["spec"]["groups"] for rule in group["rules"]]
    assert any('up{job="factorydash"}' in expr for expr in expressions)


def test_the_prometheus_rule_holds_exactly_the_groups_of_prometheus_rules(rendered):
    groups = [group for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
              for group in yaml.safe_load(path.read_text())["groups"]]  # fmt: skip
    assert the(rendered, "PrometheusRule")["spec"]["groups"] == groups, "run deploy/kubernetes/generate.py"


def test_promtool_accepts_the_prometheus_rules_groups(rendered, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": the(rendered, "PrometheusRule")["spec"]["groups"]}))
    result = subprocess.run([require_program("promtool"), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_is_a_config_map_for_grafanas_sidecar(rendered):
    dashboards = {
        key: json.loads(value)
        for document in rendered
        if document["kind"] == "ConfigMap" and document["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for key, value in document["data"].items()
    }
    expected = {path.name: json.loads(path.read_text()) for path in (ROOT / "grafana" / "dashboards").glob("*.json")}
    assert dashboards == expected, "run deploy/kubernetes/generate.py"
