"""The Airflow DAG runs the loop for real: Airflow 3 with its SQLite metadata database
(`airflow dags test`, no scheduler daemon) over simulated days, while a `fraudctl serve`
follows the registry's champion and switches version when the loop moves the alias."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fraudctl.config import load_params
from fraudctl.loop.cycle import Loop
from tests.conftest import REPO_ROOT
from tests.loop.conftest import loop_params
from tests.once import built_once
from tests.serve.test_server_process import free_port, wait_for

AIRFLOW = REPO_ROOT / ".venv-airflow" / "bin" / "airflow"
FRAUDCTL = Path(sys.executable).with_name("fraudctl")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not AIRFLOW.exists(), reason="Airflow's virtualenv is missing: make airflow"
    ),
]


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


def _airflow_env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {
        **base,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **extra,
    }


@pytest.fixture
def airflow_home(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """An AIRFLOW_HOME whose SQLite metadata database is migrated: `airflow db migrate`
    runs once per pytest run, and each test starts from a copy of the database file (it
    holds no path; Airflow writes its airflow.cfg for the new home)."""

    def migrate(target: Path) -> None:
        _airflow(_airflow_env(target), "db", "migrate")

    built, _ = built_once(tmp_path_factory, "airflow-home", migrate)
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy2(built / "airflow.db", home / "airflow.db")
    return home


def _version(base: str) -> str:
    with urllib.request.urlopen(f"{base}/model", timeout=5) as response:
        return str(json.loads(response.read())["version"])


def test_the_dag_runs_days_of_the_loop_and_the_server_follows_the_champion(
    tmp_path, loop_env, airflow_home
):
    # twice the customers of the other loop tests: each day's window needs frauds in
    # every split, and this test retrains on consecutive days
    params_file = loop_params(
        tmp_path,
        policy="schedule",
        retrain_every_days=1,
        promote_margin=-1.0,
        n_customers=300,
        n_terminals=600,
    )
    loop = Loop(load_params(params_file))
    base_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    subprocess.run(
        [str(FRAUDCTL), "simulate", "--days", "9", "--params", str(params_file)],
        cwd=tmp_path,
        env=base_env,
        check=True,
        capture_output=True,
    )
    env = _airflow_env(
        airflow_home,
        FRAUDCTL=str(FRAUDCTL),
        FRAUDCTL_PROJECT=str(tmp_path),
        FRAUDCTL_LOOP_PARAMS=str(params_file),
    )
    day9, day10 = (str(loop.world.date(d)) for d in (9, 10))
    _airflow(env, "dags", "test", "fraudctl_continuous", day9)
    assert loop.version("champion") == "1"  # the first retrain made the champion

    # the served model reads customer and terminal history: load it from the feed's log
    history = tmp_path / "history.parquet"
    loop.world.read_log(list(range(10))[:9]).to_parquet(history)
    store = f"sqlite:///{tmp_path / 'online.db'}"
    subprocess.run(
        [
            str(FRAUDCTL),
            "features",
            "materialize",
            "--params",
            str(params_file),
            "--model",
            str(loop.project.model_dir),
            "--store",
            store,
            "--history",
            str(history),
        ],
        cwd=tmp_path,
        env=base_env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    serve_env = {**base_env, "MLFLOW_TRACKING_URI": load_params(params_file).tracking.uri}
    name = load_params(params_file).tracking.registered_model
    server = subprocess.Popen(
        [
            str(FRAUDCTL),
            "serve",
            "--model",
            f"models:/{name}@champion",
            "--port",
            str(port),
            "--poll-seconds",
            "0.5",
            "--online-store",
            f"sqlite:///{tmp_path / 'online.db'}",
        ],
        cwd=tmp_path,
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health/ready", timeout=120)
        assert _version(base) == "1"
        _airflow(env, "dags", "test", "fraudctl_continuous", day10)
        deadline = time.monotonic() + 60
        while _version(base) != "2" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _version(base) == "2"  # the served model followed the alias the loop moved
    finally:
        server.terminate()
        server.wait(timeout=30)

    steps = {(e["day"], e["step"]): e for e in loop.decisions()}
    for step in ("score", "monitor", "drift", "decide", "retrain", "compare"):
        assert (10, step) in steps or step == "monitor", step
    assert steps[(10, "score")]["champion"] == "1"
    assert steps[(10, "decide")]["outcome"] == "retrain"
    assert steps[(10, "retrain")]["version"] == "2"
    compared = steps[(10, "compare")]
    assert compared["outcome"] == "promoted" and compared["rows_digest"]
    assert loop.version("champion") == "2"
