"""A real `fraudctl serve` process on a free local port, and a real Prometheus scraping it."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.serve.conftest import transaction

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 5.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if http("GET", url, timeout=1.0)[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


@contextlib.contextmanager
def serving(
    model: Path | str, *extra: str, env: dict[str, str] | None = None, log: list[str] | None = None
) -> Iterator[str]:
    """A running `fraudctl serve`; with ``log``, its output is appended there on exit."""
    import tempfile

    port = free_port()
    # The server's logs go to a file: an unread pipe fills up and blocks the server.
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(
            ["fraudctl", "serve", "--model", str(model), "--port", str(port), *extra],
            env=env or cli_env(),
            stdout=log_file,
            stderr=log_file,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/health/ready")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)
            if log is not None:
                log_file.seek(0)
                log.append(log_file.read().decode(errors="replace"))


def test_fraudctl_serve_answers_over_http(model_dir, test_rows):
    with serving(model_dir) as base:
        status, body = http("POST", f"{base}/predict", transaction(test_rows, 0))
        assert status == 200 and 0.0 <= body["probability"] <= 1.0
        status, body = http("POST", f"{base}/predict", {"V1": "x"})
        assert status == 422
        status, body = http("GET", f"{base}/model")
        assert body["version"] == "1"


def test_serve_with_two_workers_shares_metrics(model_dir, test_rows, tmp_path):
    env = cli_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    with serving(model_dir, "--workers", "2", env=env) as base:
        for i in range(20):
            assert http("POST", f"{base}/predict", transaction(test_rows, i))[0] == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            text = response.read().decode()
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("fraudctl_http_requests_total") and 'route="/predict"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in lines) == 20


def test_missing_model_fails_at_start_with_one_line(tmp_path):
    result = subprocess.run(
        ["fraudctl", "serve", "--model", str(tmp_path / "nope")],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "model directory not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_registry_uri_is_served(trained, mlflow_store, test_rows):
    env = cli_env(MLFLOW_TRACKING_URI=mlflow_store)
    log: list[str] = []
    with serving("models:/served-model@champion", env=env, log=log) as base:
        status, body = http("GET", f"{base}/model")
        assert status == 200
        assert (body["alias"], body["version"]) == ("champion", "1")
    # No download progress bars in the log stream.
    assert "Downloading artifacts" not in log[0] and "%|" not in log[0], log[0]


@pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="no prometheus binary (Debian package 'prometheus'; .ci/run installs it)",
)
def test_prometheus_scrapes_the_service(model_dir, test_rows, tmp_path):
    with serving(model_dir) as base:
        for i in range(5):
            http("POST", f"{base}/predict", transaction(test_rows, i))
        target = base.removeprefix("http://")
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: fraudctl\n    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        port = free_port()
        prometheus = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            query = (
                f"http://127.0.0.1:{port}/api/v1/query?query="
                "fraudctl_http_requests_total%7Broute%3D%22%2Fpredict%22%7D"
            )
            deadline = time.monotonic() + 60
            result: list = []
            while time.monotonic() < deadline and not result:
                with contextlib.suppress(OSError, ValueError):
                    status, body = http("GET", query, timeout=2)
                    result = body["data"]["result"] if status == 200 else []
                time.sleep(0.5)
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=20)
    assert result, "Prometheus never returned fraudctl_http_requests_total"
    assert sum(float(r["value"][1]) for r in result) >= 5
    assert result[0]["metric"]["job"] == "fraudctl"
