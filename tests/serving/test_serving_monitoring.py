"""The shipped Grafana dashboard and Prometheus alert rules refer only to series a real app
exports, with labels it sets; the rules pass promtool (check and unit tests) and a schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict, Field

from classifier.runtime import Classifier
from serving.app import create_app
from serving.settings import ServingSettings
from training.drift.reference import reference_stats

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring" / "grafana" / "tierwise-dashboard.json"
RULES = ROOT / "monitoring" / "prometheus" / "tierwise-alerts.yaml"
RULE_TESTS = ROOT / "monitoring" / "prometheus" / "tierwise-alerts.test.yaml"
ADMIN = {"Authorization": "Bearer admin-token-000"}
CLIENT = {"Authorization": "Bearer client-token-123"}
_NAME = re.compile(r"\btierwise_[a-z0-9_]+\b")
_SELECTOR = re.compile(r"\b(tierwise_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def _dashboard_exprs() -> list[str]:
    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    yield value
                elif key == "query" and isinstance(value, dict):
                    yield value.get("query", "")
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return list(walk(json.loads(DASHBOARD.read_text())))


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Series name -> label names, from /metrics of a real app after real traffic."""
    tmp = tmp_path_factory.mktemp("monitoring")
    bundle = shutil.copytree(tiny_bundle, tmp / "bundle")  # with a drift reference, as exported
    manifest = json.loads((bundle / "manifest.json").read_text())
    texts = ["Summarize this meeting for the team.", "Write a Python function to sort a list."]
    manifest["reference_stats"] = reference_stats(Classifier.load(bundle), texts * 20)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    settings = ServingSettings(
        bundle_path=bundle, reload_interval_s=0, warmup_requests=1, log_dir=tmp / "logs",
        drift_min_requests=1,
        admin_token="admin-token-000", switches_path=tmp / "switches.json",
        abstain_intent_margin=0.99,  # so that abstentions are counted too
        feedback_callers={"router": {"token": "client-token-123", "role": "client"}},
    )  # fmt: skip
    change = {"experiment": {"mode": "ab", "feature_shares": {"doc_summary": 0.5},
                             "shadow_rate": 1.0},
              "kill": {"support_chat": True}, "caps": {"inline_assist": "mini"}}  # fmt: skip
    attempt = {
        "tier": "nano",
        "model": "acme-nano",
        "schema_ok": False,
        "compliance_ok": True,
        "latency_ms": 800.0,
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.0001,
    }
    with TestClient(create_app(settings)) as client:
        assert client.patch("/admin/switches", json=change, headers=ADMIN).status_code == 200
        texts = ["Email jane.doe@example.com the loan contract summary.",
                 "Translate this support ticket into French.", "Tell me a joke."]  # fmt: skip
        for i, text in enumerate(texts * 4):
            body = {"text": text, "feature": "doc_summary", "conversation_id": f"c{i % 3}",
                    "request_id": f"r{i}"}  # fmt: skip
            assert client.post("/classify", json=body).status_code == 200
        outcome = {"request_id": "r0", "attempts": [attempt, {**attempt, "tier": "mini",
                   "schema_ok": True}], "escalations": [{"from": "nano", "to": "mini",
                   "cause": "schema_fail_x2"}]}  # fmt: skip
        feedback = {"outcomes": [outcome],
                    "corrections": [{"request_id": "r1", "ts": "2020-01-01T00:00:00Z",
                                     "kind": "edit"}]}  # fmt: skip
        assert client.post("/feedback", json=feedback, headers=CLIENT).status_code == 202
        text = client.get("/metrics").text
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        series.setdefault(family.name, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
            series[family.name].update(sample.labels)
    return series


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_referenced_metric_and_label_exists(
    exported: dict[str, set[str]], source: str
) -> None:
    exprs = _dashboard_exprs() if source == "dashboard" else _rule_exprs()
    assert len(exprs) > 10
    names = {name for expr in exprs for name in _NAME.findall(expr)}
    missing = sorted(names - set(exported))
    assert not missing, f"{source} refers to series /metrics does not export: {missing}"
    for expr in exprs:
        for name, matchers in _SELECTOR.findall(expr):
            unknown = set(_MATCHER.findall(matchers)) - exported[name]
            assert not unknown, f"{name} has no label(s) {unknown} (in {expr!r})"
        labels = {n for name in _NAME.findall(expr) for n in exported[name]} | {"le"}
        for group in _BY.findall(expr):
            wanted = {g.strip() for g in group.split(",") if g.strip()}
            assert wanted <= labels, f"`by ({group})` names labels no series has: {expr!r}"
    # the day-one signals are all there
    for signal in ("tierwise_decisions_total", "tierwise_escalations_total",
                   "tierwise_corrections_total", "tierwise_guard_activations_total",
                   "tierwise_classify_duration_seconds_bucket"):  # fmt: skip
        assert signal in names, f"{source} has no panel or rule on {signal}"


def test_dashboard_is_importable_and_shows_drift() -> None:
    dash = json.loads(DASHBOARD.read_text())
    panels = dash["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and dash["uid"] and dash["schemaVersion"] >= 36
    for panel in panels:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}" and target["expr"]
    drift = [
        t["expr"] for p in panels if "drift" in p["title"].lower() for t in p.get("targets", [])
    ]
    assert any("tierwise_drift_psi" in e for e in drift), drift


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert: str = Field(pattern=r"^Tierwise[A-Za-z0-9]+$")
    expr: str = Field(min_length=1)
    for_: str | None = Field(default=None, alias="for", pattern=r"^\d+[smh]$")
    labels: dict[Literal["severity"], Literal["info", "warning", "critical"]]
    annotations: dict[Literal["summary", "description"], str]


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    rules: list[_Rule] = Field(min_length=1)


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[_Group] = Field(min_length=1)


def test_alert_rules_match_the_schema() -> None:
    """A structural check that runs everywhere (promtool below is the full check)."""
    parsed = _RuleFile.model_validate(yaml.safe_load(RULES.read_text()))
    alerts = [r.alert for g in parsed.groups for r in g.rules]
    assert len(alerts) == len(set(alerts))
    assert all("summary" in r.annotations for g in parsed.groups for r in g.rules)


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    assert shutil.which("promtool"), (
        "promtool not found: ./scripts/test installs it (apt-get install prometheus)"
    )
    check = subprocess.run(["promtool", "check", "rules", str(RULES)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    unit = subprocess.run(["promtool", "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert unit.returncode == 0, unit.stdout + unit.stderr
