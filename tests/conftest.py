"""Shared fixtures: a tiny project directory with its own params, data and MLflow store."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from fraudctl.config import parse_params
from fraudctl.paths import ProjectPaths

REPO_ROOT = Path(__file__).resolve().parents[1]

# The suite runs a worker per core, and each trains with two threads (params.yaml's n_jobs),
# so OpenMP's threads are often waiting for a core. By default they spin while they wait,
# which on 2 cores doubled the CPU time of the training tests (budget tests: 154 s of CPU
# and 85 s of wall time with spinning, 71 s and 50 s without). Set here, in the process
# that starts the workers and before any OpenMP library is loaded, so the workers and every
# command they run inherit it; a value set by the caller wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The project's .dvc/config turns DVC's usage analytics off; the repositories the tests
# `dvc init` do not have it, and every DVC command there started a daemon to send them.
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

# Small enough for seconds per stage, large enough that every split has frauds.
SMALL_PARAMS: dict[str, Any] = {
    "base": {"seed": 7},
    "data": {"synthetic": {"n_rows": 6000, "fraud_rate": 0.02}},
    "model": {"lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 10}},
    # One quick family; comparing it with the blend is tested in
    # tests/models/test_selection.py, the budget's portfolio (params.yaml's default) in
    # tests/models/test_budget.py and in `dvc repro` in tests/pipeline.
    "selection": {"candidates": [], "budget": None},
    # CodeCarbon is measured by its own tests (tests/models/test_card.py)
    "emissions": {"enabled": False},
}


def write_params(directory: Path, overrides: dict[str, Any] | None = None) -> Path:
    params = _merge(SMALL_PARAMS, overrides or {})
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the session: creating its tables costs a few seconds."""
    directory = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{directory / 'mlflow.db'}"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> ProjectPaths:
    """Run the prepare, features and train stages once on small synthetic data."""
    root = tmp_path_factory.mktemp("served")
    params = parse_params({**SMALL_PARAMS, "tracking": {"registered_model": "served-model"}})
    return run_training_stages(params, ProjectPaths(root), mlflow_store)


@contextlib.contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """MLFLOW_TRACKING_URI set for the block (session fixtures cannot use monkeypatch)."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def run_training_stages(params: Any, paths: ProjectPaths, store: str) -> ProjectPaths:
    from fraudctl.stages import features, prepare, train

    with tracking_uri(store):
        prepare.run(params, paths)
        features.run(params, paths)
        train.run(params, paths)
    return paths


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> Iterator[Path]:
    """A fresh working directory with small params, as a user's checkout would be."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    write_params(tmp_path)
    yield tmp_path


@pytest.fixture
def registry_name(project):
    """A registered-model name of its own, so tests sharing the store do not interfere."""
    name = f"fraud-{uuid.uuid4().hex[:8]}"
    write_params(project, {"tracking": {"registered_model": name}})
    return name


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    """Run the CLI in-process and return the result (output includes stderr)."""
    from fraudctl.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for subprocess runs: the venv's scripts on PATH."""
    import sys

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# --- a raw-transaction project (the example's params on a small generated log) ---

SMALL_LOG: dict[str, Any] = {
    "base": {"seed": 3},
    "data": {
        "synthetic_transactions": {
            "n_customers": 150,
            "n_terminals": 200,
            "days": 45,
            "compromised_terminal_rate": 0.05,
            "compromised_card_rate": 0.05,
        }
    },
    "split": {"gap": "3d"},
    "model": {"lightgbm": {"n_estimators": 30, "min_child_samples": 5}},
    "selection": {"budget": None},  # the budget on a log: tests/models/test_budget.py
    "evaluate": {"card_k": 5},
    "tracking": {"registered_model": "transactions-model"},
}


def example_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load((REPO_ROOT / "examples/transactions/params.yaml").read_text())
    return _merge(_merge(raw, SMALL_LOG), overrides or {})


def write_example_params(directory: Path, overrides: dict[str, Any] | None = None) -> Path:
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(example_params(overrides), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def transactions_project(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> Path:
    """prepare -> features -> train on a small generated log; returns the project root."""
    root = tmp_path_factory.mktemp("transactions")
    write_example_params(root)
    run_training_stages(parse_params(example_params()), ProjectPaths(root), mlflow_store)
    return root


# --- a log whose clock counts days (data.schema.time_unit: d) ---


def day_step_log(days: int = 80) -> pd.DataFrame:
    """The generated log with its timestamps replaced by a day number ``step`` (0, 1, ...),
    rows in the log's own order: the shape of public simulated payment logs."""
    from fraudctl.data.synthetic_transactions import generate_transaction_log

    log = generate_transaction_log(
        n_customers=120,
        n_terminals=160,
        days=days,
        seed=3,
        compromised_terminal_rate=0.05,
        compromised_card_rate=0.05,
    )
    step = (log["timestamp"] - log["timestamp"].min().normalize()).dt.days.astype("int64")
    return log.drop(columns=["timestamp"]).assign(step=step)


DAY_CLOCK: dict[str, Any] = {
    "data": {"source": "log.csv", "schema": {"time": "step", "time_unit": "d"}},
    "split": {"gap": "7d"},
    "features": {"calendar": []},  # a day has no hour
    "emissions": {"enabled": False},
    "tracking": {"registered_model": "day-clock-model"},
}


def day_clock_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return example_params(_merge(DAY_CLOCK, overrides or {}))


def run_cli_project(root: Path, params: dict[str, Any], store: str, *commands: str) -> None:
    """Write ``params`` into ``root`` and run each command (words split on spaces) there
    through the CLI, as a user would; a command that fails fails the caller."""
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", store)
        patch.setenv("MPLBACKEND", "Agg")
        for command in commands:
            result = invoke(runner, *command.split())
            assert result.exit_code == 0, (command, result.output)


@pytest.fixture(scope="session")
def day_clock_project(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> Path:
    """data -> features build -> train -> evaluate through the CLI on the day-step log with
    ``time_unit: d``, ``7d`` windows and gaps; returns the project root."""
    root = tmp_path_factory.mktemp("day-clock")
    day_step_log().to_csv(root / "log.csv", index=False)
    commands = ("data", "features build", "train", "evaluate")
    run_cli_project(root, day_clock_params(), mlflow_store, *commands)
    return root


# --- a project trained through the CLI, with its own MLflow store, copied for each test ---

CLI_MODEL = "cli-trained"  # its registered model: version 1, champion


@contextlib.contextmanager
def process_tracking_uri(uri: str | None) -> Iterator[None]:
    """MLflow's process-wide tracking URI at ``uri`` for the block, then back as it was.

    Every command run in-process sets it (fraudctl.tracking), and a bare ``MlflowClient()``
    reads it before MLFLOW_TRACKING_URI: a store left there by another project's commands
    would answer for this one."""
    from mlflow.tracking._tracking_service import utils

    previous = utils._tracking_uri
    variable = os.environ.get("MLFLOW_TRACKING_URI")
    utils.set_tracking_uri(uri)
    try:
        yield
    finally:
        utils.set_tracking_uri(previous)
        if variable is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = variable


def _train_through_the_cli(target: Path) -> dict[str, Any]:
    params = _merge(SMALL_PARAMS, {"tracking": {"registered_model": CLI_MODEL}})
    store = f"sqlite:///{target / 'mlflow.db'}"
    with process_tracking_uri(None):
        run_cli_project(target, params, store, "data", "features build", "train")
    return {}


@pytest.fixture
def cli_trained(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A project after `fraudctl data`, `features build` and `train`, as :func:`project`
    has it (small params, the working directory), whose model is version 1 and champion of
    ``CLI_MODEL`` in the project's own MLflow store (mlflow.db, mlartifacts/). Trained once
    per pytest run; each test gets a copy, the store's paths moved with it."""
    from tests.once import built_once, copy_project

    built, _ = built_once(tmp_path_factory, "cli-trained", _train_through_the_cli)
    root = copy_project(built, tmp_path / "project")
    store = f"sqlite:///{root / 'mlflow.db'}"
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with process_tracking_uri(store):
        yield root


# --- the small trained models the model and serving tests share ---


@pytest.fixture(scope="session")
def model_dir(trained: ProjectPaths) -> Path:
    return trained.model_dir


@pytest.fixture(scope="session")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> Path:
    """params.yaml's blend (what selection trains on the ULB table) on small data: its saved
    format is what the tests serve, so it is fitted once (no folds) with a short network."""
    params = parse_params(
        {
            **SMALL_PARAMS,
            "model": {"name": "ensemble", **SMALL_PARAMS["model"], "mlp": {"max_iter": 30}},
            "selection": {"candidates": [], "folds": 0, "budget": None},
            "tracking": {"registered_model": "default-blend"},
        }
    )
    paths = ProjectPaths(tmp_path_factory.mktemp("default-blend"))
    return run_training_stages(params, paths, mlflow_store).model_dir


@pytest.fixture(scope="session")
def test_rows(trained: ProjectPaths) -> pd.DataFrame:
    return pd.read_parquet(trained.features_file("test"))


FEATURES = [f"V{i}" for i in range(1, 29)] + ["Amount"]


# --- the order files go to the workers: the longest first ---

# pytest-xdist hands out whole files (--dist=loadfile) in collection order
# (--no-loadscope-reorder): a file of several minutes handed out last keeps one worker busy
# while the others are done. These go first, longest first (measured with --durations); a
# file not listed keeps its place after them. A stale entry only costs balance, never a test.
LONGEST_FIRST = (
    "tests/pipeline/test_dvc.py",
    "tests/models/test_families.py",
    "tests/pipeline/test_dvc_transactions.py",
    "tests/loop/test_dag.py",
    "tests/models/test_network.py",
    "tests/distributed/test_engines.py",
    "tests/catalogue/test_catalogue.py",
    "tests/reliability/test_crashes.py",
    "tests/ui/test_app.py",
    "tests/models/test_door_parity.py",
    "tests/pipeline/test_dvc_real_data.py",
    "tests/pipeline/test_dvc_dask.py",
    "tests/cli/test_score.py",
    "tests/models/test_card.py",
    "tests/pipeline/test_train_evaluate.py",
    "tests/serve/test_schemathesis.py",
    "tests/serve/test_deploy_assets.py",
    "tests/models/test_selection.py",
    "tests/loop/test_cycle.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


# --- Hypothesis: a fixed seed and few examples unless asked for more ---
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", max_examples=8, derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("thorough", max_examples=200, derandomize=False)
_hypothesis_settings.load_profile("ci")
