"""A small trained model shared by the serving tests, and an in-process client factory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from fraudctl.config import ProjectPaths, parse_params
from tests.conftest import SMALL_PARAMS


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> ProjectPaths:
    """Run the prepare and train stages once on small synthetic data."""
    from fraudctl.data.prepare import prepare
    from fraudctl.model.train import train

    root = tmp_path_factory.mktemp("served")
    params = parse_params({**SMALL_PARAMS, "tracking": {"registered_model": "served-model"}})
    paths = ProjectPaths(root)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_store
    try:
        prepare(params, paths)
        train(params, paths)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return paths


@pytest.fixture(scope="session")
def model_dir(trained: ProjectPaths) -> Path:
    return trained.model_dir


@pytest.fixture(scope="session")
def test_rows(trained: ProjectPaths) -> pd.DataFrame:
    return pd.read_parquet(trained.split_file("test"))


FEATURES = [f"V{i}" for i in range(1, 29)] + ["Amount"]


def transaction(frame: pd.DataFrame, i: int) -> dict[str, float]:
    return {name: float(frame[name].iloc[i]) for name in FEATURES}


@pytest.fixture
def make_client(model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Build an app on the shared model and wait until it is ready."""
    clients: list[TestClient] = []

    def factory(**settings: object) -> TestClient:
        from fraudctl.serve.app import create_app
        from fraudctl.serve.settings import ServeSettings

        client = TestClient(create_app(ServeSettings(model=str(model_dir), **settings)))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    yield make_client()


def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready: {client.get('/health/ready').json()}")
