"""Serving that follows the registry: alias moves reach a running app, bad versions are
refused, and the threshold is shared through the registry."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import mlflow
import pytest
from fastapi.testclient import TestClient

from fraudctl.serve.follow import THRESHOLD_TAG
from fraudctl.stages.train import MODEL_ARTIFACT_PATH
from tests.conftest import tracking_uri
from tests.serve.conftest import transaction, wait_ready

TOKEN = "follow-secret"


@pytest.fixture
def registry(trained, mlflow_store) -> Iterator[tuple[mlflow.MlflowClient, str]]:
    """A registered model of its own with two versions of the trained model."""
    name = f"follow-{uuid.uuid4().hex[:8]}"
    run_id = json.loads((trained.model_dir.parent / "registry.json").read_text())["run_id"]
    client = mlflow.MlflowClient(mlflow_store)
    with tracking_uri(mlflow_store):
        for _ in range(2):
            mlflow.register_model(f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}", name)
    client.set_registered_model_alias(name, "champion", "1")
    yield client, name


@pytest.fixture
def follow_app(mlflow_store, monkeypatch) -> Iterator[Callable[[str], TestClient]]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    clients: list[TestClient] = []

    def start(name: str) -> TestClient:
        from fraudctl.serve.app import create_app
        from fraudctl.serve.settings import ServeSettings

        settings = ServeSettings(
            model=f"models:/{name}@champion", poll_seconds=0.2, admin_token=TOKEN
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_an_alias_move_reaches_the_running_app_without_a_failed_request(
    registry, follow_app, test_rows
):
    client, name = registry
    app = follow_app(name)
    assert app.get("/model").json()["version"] == "1"
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        i = 0
        while not stop.is_set():
            statuses.append(app.post("/predict", json=transaction(test_rows, i % 50)).status_code)
            i += 1

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        client.set_registered_model_alias(name, "champion", "2")
        _eventually(lambda: app.get("/model").json()["version"] == "2")
        client.set_registered_model_alias(name, "champion", "1")
        _eventually(lambda: app.get("/model").json()["version"] == "1")
    finally:
        stop.set()
        worker.join()
    assert statuses and set(statuses) == {200}
    assert _metric(app, 'fraudctl_model_reloads_total{result="ok"}') == 2
    served = [
        line
        for line in app.get("/metrics").text.splitlines()
        if line.startswith("fraudctl_model_info{") and line.endswith(" 1.0")
    ]
    assert len(served) == 1 and 'version="1"' in served[0], served


def test_a_version_that_cannot_load_is_refused_and_the_old_one_serves_on(
    registry, follow_app, test_rows, tmp_path
):
    client, name = registry
    app = follow_app(name)
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "README.txt").write_text("no MLmodel here")
    bad = client.create_model_version(name, source=broken.as_uri())
    client.set_registered_model_alias(name, "champion", str(bad.version))
    _eventually(lambda: _metric(app, 'fraudctl_model_reloads_total{result="failed"}') >= 1)
    time.sleep(1.0)  # five more polls: a refused version is not retried at every one
    assert _metric(app, 'fraudctl_model_reloads_total{result="failed"}') == 1
    assert app.get("/model").json()["version"] == "1"
    assert app.post("/predict", json=transaction(test_rows, 0)).status_code == 200


def test_a_threshold_change_reaches_every_replica_through_the_registry(registry, follow_app):
    client, name = registry
    first, second = follow_app(name), follow_app(name)
    response = first.put(
        "/model/threshold", json={"threshold": 0.4242}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200 and response.json()["scope"] == "registry"
    assert client.get_model_version(name, "1").tags[THRESHOLD_TAG] == "0.4242"
    _eventually(lambda: second.get("/model").json()["threshold"] == pytest.approx(0.4242))
    # A new replica starts with the shared threshold, not the one saved in the model.
    third = follow_app(name)
    assert third.get("/model").json()["threshold"] == pytest.approx(0.4242)


def test_shadow_challenger_scores_live_traffic_off_the_request_path(
    registry, mlflow_store, monkeypatch, test_rows
):
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    client, name = registry
    client.set_registered_model_alias(name, "challenger", "2")
    # The challenger flags almost everything: its decisions must differ from the champion's.
    client.set_model_version_tag(name, "2", THRESHOLD_TAG, "0.000001")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    settings = ServeSettings(model=f"models:/{name}@champion", poll_seconds=0.2, shadow=True)
    with TestClient(create_app(settings)) as app:
        wait_ready(app)
        _eventually(
            lambda: 'fraudctl_shadow_model_info{version="2"} 1.0' in app.get("/metrics").text
        )
        for i in range(30):
            answer = app.post("/predict", json=transaction(test_rows, i)).json()
            assert answer["model_version"] == "1"  # clients only ever see the champion
        rows = [transaction(test_rows, i) for i in range(20)]
        assert app.post("/predict/batch", json={"transactions": rows}).status_code == 200
        app.app.state.service.shadow.drain()
        from fraudctl.shadow_report import summarise

        summary = summarise(app.get("/metrics").text)
    assert summary.compared == 50 and summary.challenger_version == "2"
    assert summary.challenger_alerts > summary.champion_alerts
    assert summary.agreed == 50 - (summary.challenger_alerts - summary.champion_alerts)
    assert summary.agreement < 1.0 and summary.mean_abs_difference == pytest.approx(0.0, abs=1e-12)


def test_a_canary_lets_the_challenger_decide_for_a_sticky_share_of_transactions(
    registry, mlflow_store, monkeypatch, test_rows
):
    from fraudctl.serve.app import create_app
    from fraudctl.serve.canary import in_canary, routing_key
    from fraudctl.serve.settings import ServeSettings

    client, name = registry
    client.set_registered_model_alias(name, "challenger", "2")
    # The challenger flags everything: its answers are told apart by decision and version.
    client.set_model_version_tag(name, "2", THRESHOLD_TAG, "0.0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    settings = ServeSettings(model=f"models:/{name}@champion", poll_seconds=0.2, canary=0.3)
    rows = [transaction(test_rows, i) for i in range(200)]  # no ids: routed by content
    with TestClient(create_app(settings)) as app:
        wait_ready(app)
        _eventually(lambda: app.get("/model").json().get("canary", {}).get("version") == "2")
        answers = [app.post("/predict", json=row).json() for row in rows]
        again = [app.post("/predict", json=row).json() for row in rows[:50]]
        batch = app.post("/predict/batch", json={"transactions": rows[:20]}).json()
        metrics = app.get("/metrics").text
    versions = [a["model_version"] for a in answers]
    expected = [in_canary(routing_key(r, []), 0.3) for r in rows]
    assert versions == ["2" if canary else "1" for canary in expected]
    assert 0.2 < versions.count("2") / len(rows) < 0.4  # the share, by hash
    assert all(a["fraud"] and a["threshold"] == 0.0 for a in answers if a["model_version"] == "2")
    # Sticky: the same transaction meets the same model every time.
    assert [a["model_version"] for a in again] == versions[:50]
    assert batch["model_version"] == "1"  # batches stay with the champion
    canary_count = versions.count("2") + versions[:50].count("2")
    served = 'fraudctl_variant_predictions_total{decision="fraud",variant="canary",version="2"}'
    assert _metric_text(metrics, served) == canary_count
    champion_flags = sum(1 for a in answers + again if a["model_version"] == "1" and a["fraud"])
    disagree = _metric_text(metrics, 'fraudctl_canary_decisions_total{agreement="disagree"}')
    assert disagree > 0 and disagree + champion_flags >= disagree


def _metric_text(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_shadow_report_reads_a_running_service(registry, mlflow_store, test_rows):
    from tests.serve.test_server_process import cli_env, http, serving

    client, name = registry
    client.set_registered_model_alias(name, "challenger", "2")
    env = cli_env(
        MLFLOW_TRACKING_URI=mlflow_store, FRAUDCTL_SHADOW="true", FRAUDCTL_POLL_SECONDS="0.3"
    )
    with serving(f"models:/{name}@champion", env=env) as base:
        _eventually(lambda: "fraudctl_shadow_model_info{" in _text(f"{base}/metrics"))
        for i in range(10):
            assert http("POST", f"{base}/predict", transaction(test_rows, i))[0] == 200
        from typer.testing import CliRunner

        from fraudctl.cli import app

        _eventually(
            lambda: "agree" in CliRunner().invoke(app, ["shadow-report", "--url", base]).output
        )
        report = CliRunner().invoke(app, ["shadow-report", "--url", base, "--min-agreement", "0.9"])
    assert report.exit_code == 0, report.output
    assert "decisions agree      100.00%" in report.output and "challenger v2" in report.output


def _text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()
