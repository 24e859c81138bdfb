"""The request log: one complete record per request, written off the request path, flushed
on shutdown, sampled only when asked, and never dropped without being counted."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import cli_env
from tests.serve.conftest import transaction
from tests.serve.test_server_process import free_port, http, wait_for


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _requests(records: list[dict]) -> list[dict]:
    return [r for r in records if "httpRequest" in r]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_every_request_is_recorded_and_flushed_at_shutdown(model_dir, test_rows, workers):
    """A real `fraudctl serve`, its standard output a pipe as under a container runtime:
    400 requests from 8 threads, then SIGTERM. The writer is set to wait a minute between
    writes, so every record was written by the flush at shutdown (two workers flushing at
    once, too): exactly one complete record per request, and every line whole JSON."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    good = [transaction(test_rows, i % 50) for i in range(300)]
    bad = [{"V1": "x"}] * 100
    process = subprocess.Popen(
        [
            "fraudctl",
            "serve",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=cli_env(FRAUDCTL_LOG_FLUSH_SECONDS="60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(f"{base}/health/ready", timeout=180)  # each worker loads the model
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda body: http("POST", f"{base}/predict", body)[0], good + bad)
            )
        assert statuses.count(200) == 300 and statuses.count(422) == 100
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        time.sleep(0.5)
        assert not _requests(_records(b"".join(output).decode()))  # all still queued
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal for the exit status
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        reader.join(10)
    lines = [line for line in b"".join(output).decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line whole: none cut by another
    requests = _requests(records)
    assert len(requests) == 400, len(requests)
    assert _metric(metrics, "fraudctl_request_log_dropped_total") == 0
    answered = [r for r in requests if r["status"] == 200]
    refused = [r for r in requests if r["status"] == 422]
    assert len(answered) == 300 and len(refused) == 100
    for record in requests:
        assert record["severity"] == "INFO" and record["logger"] == "fraudctl.serve"
        assert record["route"] == "/predict" and record["message"].startswith("POST /predict")
        assert record["httpRequest"]["requestMethod"] == "POST"
        assert record["httpRequest"]["latency"].endswith("s") and record["latency_ms"] > 0
        assert record["time"].endswith("Z") and len(record["time"]) == 24
    for record in answered:
        assert record["model_version"] == "1" and record["decision"] in {"fraud", "legit"}
    # no features in the log, and probes and scrapes are not logged
    assert all("V1" not in json.dumps(r) for r in requests)
    assert not [r for r in requests if r["route"] in {"/health/ready", "/metrics"}]


def test_sampling_keeps_every_error_and_counts_every_request(make_client, test_rows, capsys):
    client = make_client(log_sample=0.0)
    capsys.readouterr()
    for i in range(5):
        assert client.post("/predict", json=transaction(test_rows, i)).status_code == 200
    for _ in range(2):
        assert client.post("/predict", json={"V1": "x"}).status_code == 422
    broken = client.post("/predict", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    client.app.state.request_log.flush()
    records = _requests(_records(capsys.readouterr().out))
    assert sorted(r["status"] for r in records) == [400, 422, 422]
    metrics = client.get("/metrics").text
    assert _metric(metrics, "fraudctl_http_requests_total", route="/predict") == 8


def test_the_setting_reads_its_variable_and_is_bounded(monkeypatch):
    from pydantic import ValidationError

    from fraudctl.serve.settings import ServeSettings

    monkeypatch.setenv("FRAUDCTL_LOG_SAMPLE", "0.25")
    assert ServeSettings().log_sample == 0.25
    with pytest.raises(ValidationError, match="log_sample"):
        ServeSettings(log_sample=1.5)


class Blocked(io.StringIO):
    """Standard output that stops the writer on its first write until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        assert self.release.wait(30)
        return super().write(text)


def test_a_full_queue_drops_and_counts_never_blocks(make_client, test_rows, monkeypatch):
    """Standard output blocked (a stalled log collector): requests are still answered at
    once, records past the queue's capacity are counted as dropped, the rest written."""
    client = make_client()
    request_log = client.app.state.request_log
    stdout = Blocked()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(request_log, "capacity", 3)
    row = transaction(test_rows, 0)
    assert client.post("/predict", json=row).status_code == 200
    assert stdout.entered.wait(10)  # the writer holds that record, stuck in write()
    started = time.monotonic()
    for _ in range(10):
        assert client.post("/predict", json=row).status_code == 200
    assert time.monotonic() - started < 10  # answered while the log is stuck
    metrics = client.get("/metrics").text
    assert _metric(metrics, "fraudctl_request_log_dropped_total") == 7
    stdout.release.set()
    request_log.close()
    written = _requests(_records(stdout.getvalue()))
    assert len(written) == 1 + 3  # the one in hand and the three queued; 7 counted
