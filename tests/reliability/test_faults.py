"""Faults of the systems around fraudctl are one line and exit 2, never a traceback or a
hang: the MLflow store, the Optuna storage, the online store, the disk, the port."""

from __future__ import annotations

import errno
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli_env, invoke, write_params


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one_line(result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_an_mlflow_store_that_is_not_a_database(project, runner, monkeypatch):
    store = project / "garbage.db"
    store.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    for command in (["data"], ["features", "build"]):
        assert invoke(runner, *command).exit_code == 0
    _one_line(invoke(runner, "train"), "not a SQLite database")
    assert not (project / "models/model").exists()


def test_a_tracking_server_that_does_not_answer_fails_fast(project):
    """MLflow's own retries took minutes; fraudctl probes the server first."""
    env = cli_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{_closed_port()}")
    for command in (["data"], ["features", "build"]):
        subprocess.run(["fraudctl", *command], env=env, cwd=project, check=True, timeout=300)
    result = subprocess.run(
        ["fraudctl", "train"], env=env, cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "does not answer" in result.stderr and "Traceback" not in result.stderr


def test_tune_storage_must_be_a_database_url(project, runner):
    write_params(project, {"tune": {"storage": "not-a-url"}})
    _one_line(invoke(runner, "tune", "--trials", "1"), "not a database URL")


def test_serve_on_a_busy_port_says_so(tmp_path, model_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                "fraudctl",
                "serve",
                "--model",
                str(model_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "serving" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("store", ["folder", "not-a-database", "redis-down"])
def test_an_unusable_online_store_is_one_line(
    transactions_project, runner, monkeypatch, tmp_path, store
):
    monkeypatch.chdir(transactions_project)
    if store == "folder":
        (tmp_path / "store.db").mkdir()
        uri = f"sqlite:///{tmp_path / 'store.db'}"
    elif store == "not-a-database":
        (tmp_path / "store.db").write_bytes(b"x" * 4096)
        uri = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        uri = f"redis://127.0.0.1:{_closed_port()}/0"
    _one_line(invoke(runner, "features", "materialize", "--store", uri), "online store")


def test_a_full_disk_without_a_file_name_is_one_line(project, runner, monkeypatch):
    """pyarrow reports ENOSPC without naming the file."""
    import pandas as pd

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    _one_line(invoke(runner, "data"), "no space left on the device")
    assert not (project / "data/prepared").exists()
    assert not list(Path(project / "data").glob(".prepared.*"))
