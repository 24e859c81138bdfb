"""A real redis-server per test module, the raw-transaction model, and the checks every
stream test ends with: one decision per transaction, and a store that replays offline."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import cli_env

RAW_COLUMNS = ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount"]


@pytest.fixture(autouse=True)
def alerts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A consumer process's alerts go to this test's folder, never the checkout's."""
    monkeypatch.setenv("FRAUDCTL_ALERT_STORE", f"sqlite:///{tmp_path / 'alerts.db'}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """redis-server on a free port; with ``durable`` it keeps an fsynced append-only file
    in ``folder``, so a restart (even after SIGKILL) loses nothing acknowledged."""

    def __init__(self, folder: Path, durable: bool = False):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("no redis-server (Debian package 'redis-server'; .ci/run installs it)")
        self.folder, self.durable, self.port = folder, durable, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--dir", str(self.folder), *(persistence or ["--appendonly", "no"])),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def client(redis_server: RedisServer) -> Any:
    """A client of the module's Redis, emptied for each test."""
    client = redis_server.client()
    client.flushall()
    return client


@dataclass
class StreamCase:
    """The model, the history loaded into the store, and the transactions streamed after."""

    model_dir: Path
    transform: Any
    history: pd.DataFrame  # labelled rows the store starts with
    stream: pd.DataFrame  # later rows, with transaction ids and labels (sent later)


@pytest.fixture(scope="session")
def case(transactions_project: Path) -> StreamCase:
    from fraudctl.data.splits import load_history
    from fraudctl.model.bundle import load_model
    from fraudctl.paths import ProjectPaths

    log = load_history(ProjectPaths(transactions_project))
    log = log.sort_values("timestamp", kind="stable").reset_index(drop=True)
    cut = int(len(log) * 0.85)
    stream = log.iloc[cut:].reset_index(drop=True)
    stream.insert(0, "transaction_id", [f"tx-{k}" for k in range(len(stream))])
    model_dir = transactions_project / "models" / "model"
    return StreamCase(model_dir, load_model(model_dir).transform, log.iloc[:cut], stream)


def load_store(uri: str, case: StreamCase) -> Any:
    from fraudctl.features.online import materialize, open_store

    store = open_store(uri)
    materialize(case.transform, store, case.history)
    return store


def message(row: dict[str, Any]) -> dict[str, bytes]:
    row = {k: row[k] for k in (*RAW_COLUMNS, "merchant_category")}
    row["timestamp"] = pd.Timestamp(row["timestamp"]).isoformat()
    return {"transaction": json.dumps(row, default=int).encode()}


def publish(client: Any, rows: pd.DataFrame, stream: str = "transactions") -> None:
    pipe = client.pipeline(transaction=False)
    for row in rows.to_dict("records"):
        pipe.xadd(stream, message(row))
    pipe.execute()


def publish_labels(client: Any, rows: pd.DataFrame, stream: str = "labels") -> None:
    pipe = client.pipeline(transaction=False)
    for tx_id, fraud in zip(rows["transaction_id"], rows["is_fraud"], strict=True):
        label = json.dumps({"transaction_id": tx_id, "is_fraud": int(fraud)})
        pipe.xadd(stream, {"label": label})
    pipe.execute()


def decisions(client: Any, stream: str = "decisions") -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for _, fields in client.xrange(stream):
        record = json.loads(fields[b"record"])
        found.setdefault(record["transaction_id"], []).append(record)
    return found


def assert_once_each(client: Any, case: StreamCase) -> dict[str, dict[str, Any]]:
    """Every streamed transaction has exactly one decision, and nothing is left pending."""
    found = decisions(client)
    assert set(found) == set(case.stream["transaction_id"])
    repeated = {tx: len(records) for tx, records in found.items() if len(records) > 1}
    assert not repeated, repeated
    assert client.xpending("transactions", "fraudctl")["pending"] == 0
    return {tx: records[0] for tx, records in found.items()}


def assert_store_replays_offline(store: Any, case: StreamCase, probes: int = 80) -> None:
    """History features read from the store for new transactions after the last one equal
    the features stage's on the same rows (the history, then the stream, all labelled):
    each streamed transaction counted once, with its label."""
    from fraudctl.features.online import OnlineFeatures

    sample = case.stream.sample(probes, random_state=1).reset_index(drop=True)
    sample = sample.drop(columns=["transaction_id", "is_fraud"])
    last = case.stream["timestamp"].max()
    sample["timestamp"] = last + pd.to_timedelta(np.arange(1, probes + 1), unit="min")
    history = pd.concat([case.history, case.stream.drop(columns=["transaction_id"])])
    offline = case.transform.matrix(sample, history)
    rows = sample.to_dict("records")
    online = OnlineFeatures(case.transform, store).matrix(rows)
    assert np.array_equal(np.isnan(online), np.isnan(offline))
    np.testing.assert_allclose(online, offline, rtol=0, atol=1e-9, equal_nan=True)


def settings(server: RedisServer, store: str, **values: Any) -> Any:
    from fraudctl.stream.settings import validate

    base = {
        "broker": server.uri,
        "online_store": store,
        "exit_when_idle": 0.5,
        "block_ms": 100,
        "metrics_port": 0,
        "consumer": "in-process",
        "log_level": "WARNING",
        "alert_store": "off",
    }
    return validate({**base, **values})


def consume(server: RedisServer, case: StreamCase, store: str, **values: Any) -> Any:
    """Run a consumer in this process until the streams have been idle for half a second."""
    from rich.console import Console

    from fraudctl.stream.run import run_stream

    chosen = settings(server, store, model=str(case.model_dir), **values)
    return run_stream(chosen, Console(file=io.StringIO()))


def consume_in_thread(
    server: RedisServer, case: StreamCase, store: str, **values: Any
) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
    from rich.console import Console

    from fraudctl.stream.run import run_stream

    chosen = settings(server, store, model=str(case.model_dir), **values)
    stop, out = threading.Event(), {}

    def target() -> None:
        out["summary"] = run_stream(chosen, Console(file=io.StringIO()), stop)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, stop, out


def consumer_process(
    server: RedisServer, case: StreamCase, store: str, name: str, *options: str, **env: str
) -> subprocess.Popen:
    """`fraudctl stream` as its own process (so it can be killed for real)."""
    command = ["fraudctl", "stream", "--model", str(case.model_dir), "--broker", server.uri]
    command += ["--online-store", store, "--consumer", name, "--metrics-port", "0", *options]
    return subprocess.Popen(
        command,
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Any, timeout: float = 60.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")
