"""deploy/kubernetes: every manifest valid against the Kubernetes API schemas (strict), and
wired to what the service really serves (OIP v2 probe paths, /metrics, selectors)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="the dev extra has it")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
K8S_VERSION = "1.33.0"  # the oldest release we promise: PDB policy/v1, HPA autoscaling/v2


def _docs() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def test_every_manifest_is_valid_against_the_api_schema() -> None:
    docs = _docs()
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= set(docs)
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_the_validator_refuses_a_misspelt_field() -> None:
    broken = copy.deepcopy(_docs()["Deployment"])
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_probes_and_scrape_point_at_what_the_service_serves() -> None:
    from serving.app import create_app

    paths = set(create_app().openapi()["paths"])
    docs = _docs()
    pod = docs["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    notes = pod["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert {"/v2/health/live", "/v2/health/ready", notes["prometheus.io/path"]} <= paths
    port = container["ports"][0]["containerPort"]
    assert int(notes["prometheus.io/port"]) == port and str(port) in container["args"]
    labels = pod["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "Deployment"):
        assert docs[kind]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert (
        docs["PodDisruptionBudget"]["spec"]["minAvailable"] < docs["Deployment"]["spec"]["replicas"]
    )
    env = {e["name"]: e for e in container["env"]}
    assert env["TIERWISE_MODEL_URI"]["value"] == "models:/tierwise@champion"
