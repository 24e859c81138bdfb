"""Container, Kubernetes and monitoring assets, checked offline against the app they ship."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

K8S = REPO_ROOT / "k8s"
MONITORING = REPO_ROOT / "monitoring"
KUBERNETES_VERSION = "1.33.0"  # a current GKE release channel version


def manifests() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents.append((path.name, document))
    return documents


def by_kind(kind: str, name: str = "fraudctl-api") -> dict:
    [document] = [d for _, d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def test_the_api_reaches_the_online_store_service():
    env = {
        e["name"]: e.get("value")
        for e in by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    store = by_kind("Service", "fraudctl-online-store")
    port = store["spec"]["ports"][0]["port"]
    assert env["FRAUDCTL_ONLINE_STORE"] == f"redis://{store['metadata']['name']}:{port}/0"
    assert (
        by_kind("StatefulSet", "fraudctl-online-store")["spec"]["serviceName"]
        == store["metadata"]["name"]
    )


@pytest.mark.parametrize(
    ("name", "document"), manifests(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_manifest_validates_strictly(name, document):
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert document["metadata"].get("namespace", "fraudctl") == "fraudctl"


def test_every_required_kind_is_there():
    kinds = {d["kind"] for _, d in manifests()}
    assert {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    assert by_kind("HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"


def _app_routes() -> set[str]:
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    return {route.path for route in create_app(ServeSettings()).routes}


def test_probes_ports_and_selectors_match_the_app():
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    [port] = container["ports"]
    assert port["containerPort"] == int(env["FRAUDCTL_PORT"])
    routes = _app_routes()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        action = container[probe]["httpGet"]
        assert action["path"] in routes, probe
        assert action["port"] in (port["name"], port["containerPort"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert env["OMP_NUM_THREADS"] == "1"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] in routes

    labels = pod["metadata"]["labels"]
    service = by_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    assert (
        by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    target = by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_pod_is_locked_down():
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= container["resources"].keys()


def test_dockerfile_matches_the_manifests():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert "EXPOSE 8080" in dockerfile and "FRAUDCTL_PORT=8080" in dockerfile
    assert "/health/ready" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert "COPY --chown=app:app models/model /app/model" in dockerfile
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "!models/model/" in ignored and "!docker/requirements-serve.txt" in ignored


def _metric_names() -> set[str]:
    from fraudctl.serve.telemetry import Metrics

    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names | {f"{n}_bucket" for n in names} | {f"{n}_total" for n in names}


def _metric_references(text: str) -> set[str]:
    return set(re.findall(r"\b(fraudctl_[a-z_]+)", text))


def test_alerts_and_dashboard_use_metrics_the_app_exports():
    exported = _metric_names()
    alerts = (MONITORING / "prometheus" / "alerts.yml").read_text()
    dashboard = json.loads((MONITORING / "grafana" / "fraudctl-api.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for text in (alerts, exprs):
        used = _metric_references(text)
        assert used and used <= exported, used - exported
    alert_names = {r["alert"] for g in yaml.safe_load(alerts)["groups"] for r in g["rules"]}
    assert {
        "FraudctlHighFraudRate",
        "FraudctlHighLatencyP95",
        "FraudctlServerErrors",
        "FraudctlNoTraffic",
        "FraudctlModelReloadFailed",
        "FraudctlModelVersionsDiffer",
        "FraudctlShadowDisagreement",
        "FraudctlRequestLogDropped",
    } <= alert_names


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="no promtool (Debian package 'prometheus'; .ci/run installs it)",
)
def test_promtool_checks_and_unit_tests_the_rules():
    rules = MONITORING / "prometheus"
    check = subprocess.run(
        ["promtool", "check", "rules", str(rules / "alerts.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "12 rules found" in check.stdout + check.stderr
    tests = subprocess.run(
        ["promtool", "test", "rules", "alerts_test.yml"], cwd=rules, capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


@pytest.mark.slow
def test_serving_requirements_alone_run_the_service(tmp_path, model_dir, default_model_dir):
    """What the image installs (docker/requirements-serve.txt + fraudctl without its
    pipeline dependencies) is enough to serve, the default blend included, and leaves
    MLflow, DVC, matplotlib and PyTorch out."""
    import sys

    from tests.serve.test_server_process import free_port, http, wait_for

    venv = REPO_ROOT / ".venv-serve"  # make sbom builds it as the Dockerfile does
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    if not (venv / "bin" / "python").exists():
        venv = tmp_path / "venv"
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        requirements = REPO_ROOT / "docker" / "requirements-serve.txt"
        lock = REPO_ROOT / "requirements.lock"
        subprocess.run([*pip, "-c", str(lock), "-r", str(requirements)], check=True, timeout=900)
    # this checkout's code, whatever the environment held before
    subprocess.run(
        [*pip, "--no-deps", "--force-reinstall", str(REPO_ROOT)],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    python = str(venv / "bin" / "python")
    for heavy in ("mlflow", "dvc", "matplotlib", "torch"):
        probe = subprocess.run([python, "-c", f"import {heavy}"], capture_output=True)
        assert probe.returncode != 0, f"{heavy} should not be in the serving image"
    row = {f"V{i}": 0.0 for i in range(1, 29)} | {"Amount": 10.0}
    # the image ships the default blend; a LightGBM model also explains itself
    for model, explains in ((model_dir, 200), (default_model_dir, 501)):
        port = free_port()
        server = subprocess.Popen(
            [str(venv / "bin" / "fraudctl"), "serve", "--model", str(model), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health/ready")
            status, body = http("POST", f"{base}/predict", row)
            assert status == 200 and 0 <= body["probability"] <= 1
            columnar = {"columns": list(row), "data": [list(row.values())] * 3}  # simdjson
            status, body = http("POST", f"{base}/predict/batch", columnar)
            assert status == 200 and len(body["predictions"]) == 3, body
            status, body = http("POST", f"{base}/explain", row)
            assert status == explains
            if explains == 200:
                assert len(body["contributions"]) == 29
        finally:
            server.terminate()
            server.wait(timeout=20)
