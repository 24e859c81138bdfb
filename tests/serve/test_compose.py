"""compose.yaml, checked as files (no Docker engine here): every service the local stack
needs, every file it mounts present, the Prometheus config valid for promtool, Grafana's
provisioning pointing at the compose file's Prometheus and at the dashboard."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def test_the_stack_has_every_service_and_listens_on_loopback_only():
    services = COMPOSE["services"]
    assert set(services) == {"api", "stream", "redis", "mlflow", "prometheus", "grafana"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    api = services["api"]
    assert api["build"] == "." and api["read_only"] is True
    assert api["environment"]["FRAUDCTL_ONLINE_STORE"].startswith("redis://redis:")
    assert api["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_mounted_file_exists():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), (name, source)


def test_prometheus_scrapes_the_api_with_the_tested_rules(tmp_path):
    config = yaml.safe_load((REPO_ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {"fraudctl-api": ["api:8080"], "fraudctl-stream": ["stream:9102"]}
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool (Debian package 'prometheus'; .ci/run installs it)")
    for name in ("prometheus.yml", "alerts.yml"):  # as mounted: side by side
        shutil.copy(REPO_ROOT / "monitoring/prometheus" / name, tmp_path / name)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_prometheus_source_and_the_dashboard():
    provisioning = REPO_ROOT / "monitoring/grafana/provisioning"
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards/fraudctl.yml").read_text())["providers"]
    grafana = COMPOSE["services"]["grafana"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    dashboard_dir = provider["options"]["path"]
    dashboards = [target for target in mounted if target.startswith(dashboard_dir + "/")]
    assert dashboards, "the dashboard is mounted where the provider looks"
    dashboard = json.loads((REPO_ROOT / mounted[dashboards[0]]).read_text())
    assert dashboard["uid"] == "fraudctl-api" and dashboard["panels"]
