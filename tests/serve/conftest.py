"""A small trained model shared by the serving tests, and an in-process client factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.conftest import FEATURES


def transaction(frame: pd.DataFrame, i: int) -> dict[str, float]:
    return {name: float(frame[name].iloc[i]) for name in FEATURES}


@pytest.fixture(autouse=True)
def alerts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alerts a served model raises go to this test's folder, never to the checkout's
    data/alerts (the default a user's server writes to)."""
    monkeypatch.setenv("FRAUDCTL_ALERT_STORE", f"sqlite:///{tmp_path / 'alerts.db'}")


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
