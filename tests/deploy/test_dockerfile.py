"""deploy/docker/Dockerfile: wired to the code it packages and to the Kubernetes manifests.

No Docker engine runs on this machine, so the image is never built here (docs/scale-out.md says
so). These tests check, against the real code, everything a build would only reveal in a
cluster: every installed package is copied in, the extras carry no training stack, the command
parses with the real CLI, the settings it sets exist, and the user, port and probe agree with
deploy/kubernetes/deployment.yaml.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
TRAINING_STACK = {"torch", "scikit-learn", "sentence-transformers", "mlflow", "model2vec"}


def _instructions() -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return parser.structure


def _stages() -> dict[str, list[dict[str, Any]]]:
    stages: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for ins in _instructions():
        if ins["instruction"] == "FROM":
            current = []
            stages[ins["value"].split()[-1]] = current
        current.append(ins)
    return stages


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def _installed_extras() -> list[str]:
    (run,) = [i["value"] for i in _stages()["build"] if "pip install" in i["value"]]
    match = re.search(r'"\.\[([a-z,]+)\]"', run)
    assert match, f"the build stage must `pip install` the project with extras: {run}"
    return match.group(1).split(",")


def _deployment_container() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    pod = doc["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {"pod": pod, **container}


def _copy_sources(stage: list[dict[str, Any]] | None = None) -> set[str]:
    """Every path a COPY takes from the build context (not from another stage)."""
    sources: set[str] = set()
    for ins in stage if stage is not None else _instructions():
        if ins["instruction"] == "COPY" and "--from" not in ins["value"]:
            words = [w for w in shlex.split(ins["value"]) if not w.startswith("--")]
            sources |= set(words[:-1])
    return sources


def _json_list(ins: dict[str, Any]) -> list[str]:
    import json

    return list(json.loads(ins["value"]))


def test_every_package_the_project_installs_is_copied_into_the_build() -> None:
    wanted = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = _copy_sources(_stages()["build"])
    assert wanted <= copied, f"not copied into the image: {sorted(wanted - copied)}"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"


def test_the_image_installs_no_training_stack() -> None:
    extras = _installed_extras()
    project = _pyproject()["project"]
    declared = project["optional-dependencies"]
    assert set(extras) <= set(declared), f"unknown extras {set(extras) - set(declared)}"
    names = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        names |= {_name(r) for r in declared[extra]}
    assert not names & TRAINING_STACK, f"the service image would carry {names & TRAINING_STACK}"
    assert "serve" in extras and "registry" in extras


def test_the_registry_extra_provides_what_the_model_source_imports() -> None:
    """serving/sources.py imports mlflow's client and artifacts modules: mlflow-skinny (the
    registry extra) must ship them itself, not the full mlflow the training venv also has."""
    registry = {_name(r) for r in _pyproject()["project"]["optional-dependencies"]["registry"]}
    assert registry == {"mlflow-skinny"}
    files = {str(f) for f in importlib.metadata.files("mlflow-skinny") or []}
    source = (ROOT / "serving" / "sources.py").read_text()
    for module in re.findall(r"^\s*(?:from|import) (mlflow[\w.]*)", source, re.M):
        path = module.replace(".", "/")
        assert f"{path}/__init__.py" in files or f"{path}.py" in files, module


def test_the_command_parses_with_the_real_cli_and_matches_kubernetes() -> None:
    from classifier.cli import build_parser

    runtime = _stages()["runtime"]
    (entry,) = [_json_list(i) for i in runtime if i["instruction"] == "ENTRYPOINT"]
    (cmd,) = [_json_list(i) for i in runtime if i["instruction"] == "CMD"]
    assert entry == ["tierwise"]
    assert "tierwise" in _pyproject()["project"]["scripts"]
    parser = build_parser()
    image_args = parser.parse_args(cmd)
    container = _deployment_container()
    k8s_args = parser.parse_args(container["args"])
    assert (image_args.host, image_args.port) == (k8s_args.host, k8s_args.port) == ("0.0.0.0", 8000)
    (expose,) = [i["value"] for i in runtime if i["instruction"] == "EXPOSE"]
    assert int(expose) == container["ports"][0]["containerPort"] == image_args.port


def test_the_user_matches_the_pod_security_context() -> None:
    (user,) = [i["value"] for i in _stages()["runtime"] if i["instruction"] == "USER"]
    uid, gid = (int(x) for x in user.split(":"))
    context = _deployment_container()["pod"]["securityContext"]
    assert (uid, gid) == (context["runAsUser"], context["fsGroup"])
    assert uid != 0


def test_every_tierwise_setting_the_image_and_manifest_set_exists() -> None:
    from serving.settings import ServingSettings as Settings

    prefix = Settings.model_config["env_prefix"]
    fields = set(Settings.model_fields)
    set_here: set[str] = set()
    for ins in _instructions():
        if ins["instruction"] == "ENV":
            set_here |= set(re.findall(rf"\b{prefix}(\w+)=", ins["value"]))
    assert {"MODEL_CACHE_DIR", "BUNDLE_PATH"} <= set_here
    for env in _deployment_container()["env"]:  # the manifest's settings too
        if env["name"].startswith(prefix):
            set_here.add(env["name"][len(prefix) :])
    unknown = {name for name in set_here if name.lower() not in fields}
    assert not unknown, f"settings that do not exist: {sorted(unknown)}"


def test_the_healthcheck_probes_a_path_the_service_serves() -> None:
    from serving.app import create_app

    (check,) = [i["value"] for i in _stages()["runtime"] if i["instruction"] == "HEALTHCHECK"]
    (path,) = re.findall(r"http://127\.0\.0\.1:8000(/[\w/]+)", check)
    assert path in create_app().openapi()["paths"]
    assert path == _deployment_container()["livenessProbe"]["httpGet"]["path"]


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = _copy_sources()
    assert "models/default" in copied  # the `bundled` target
    for source in copied:
        for pattern in ignored:
            assert not (source == pattern or source.startswith(pattern.rstrip("/") + "/")), (
                f".dockerignore's {pattern!r} hides {source!r} from the build"
            )
    assert ".venv" in ignored and ".git" in ignored
