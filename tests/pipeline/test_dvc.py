"""`dvc repro` on a copy of the repository, as a new user's clone would run it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fraudctl.config import SPLITS, ProjectPaths
from tests.conftest import REPO_ROOT, SMALL_PARAMS, cli_env
from tests.experiments.conftest import SMALL_EXPERIMENTS

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The repository's tracked files in a new git repo, with small synthetic params."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout to copy its tracked files")
    target = tmp_path_factory.mktemp("clone")
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    params = yaml.safe_load((target / "params.yaml").read_text())
    params["data"]["synthetic"].update(SMALL_PARAMS["data"]["synthetic"])
    params["model"]["lightgbm"].update(SMALL_PARAMS["model"]["lightgbm"])
    for name, values in SMALL_EXPERIMENTS["experiments"].items():
        params["experiments"][name].update(values)
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = cli_env(
        MLFLOW_TRACKING_URI=f"sqlite:///{target / 'mlflow.db'}",
        MPLBACKEND="Agg",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    _run(["git", "init", "-q", "-b", "main"], target, env)
    _run(["git", "add", "-A"], target, env)
    _run(["git", "commit", "-qm", "clone"], target, env)
    return target, env


def test_repro_runs_every_stage_then_nothing(clone):
    root, env = clone
    first = _run(["dvc", "repro"], root, env)
    for stage in ("prepare", "train", "evaluate", "poison", "fairness", "drift"):
        assert f"Running stage '{stage}'" in first.stdout
    paths = ProjectPaths(root)
    for split in SPLITS:
        assert paths.split_file(split).exists()
    assert (paths.model_dir / "MLmodel").exists()
    metrics = json.loads(paths.metrics_file.read_text())
    assert 0 < metrics["pr_auc"] <= 1

    second = _run(["dvc", "repro"], root, env)
    assert "Running stage" not in second.stdout
    assert "up to date" in second.stdout

    shown = _run(["dvc", "metrics", "show", "--json"], root, env)
    for metric_file in (
        "reports/metrics.json",
        "reports/poison/metrics.json",
        "reports/fairness/metrics.json",
        "reports/drift/metrics.json",
    ):
        assert metric_file in shown.stdout
    plots = _run(["dvc", "plots", "show", "--json"], root, env)
    assert "pr_curve.csv" in plots.stdout


def test_one_param_change_reruns_only_what_depends_on_it(clone):
    root, env = clone
    _run(["dvc", "repro"], root, env)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["evaluate"]["calibration_bins"] = 5
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = _run(["dvc", "repro"], root, env)
    assert "Running stage 'evaluate'" in result.stdout
    assert "Running stage 'prepare'" not in result.stdout
    assert "Running stage 'train'" not in result.stdout


def test_experiment_with_another_model(clone):
    root, env = clone
    _run(["dvc", "repro"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "baseline"], root, env)
    _run(
        [
            "dvc",
            "exp",
            "run",
            "-n",
            "rf",
            "-S",
            "model.name=random_forest",
            "-S",
            "model.random_forest.n_estimators=20",
        ],
        root,
        env,
    )
    shown = _run(["dvc", "exp", "show", "--json"], root, env)
    assert '"rf"' in shown.stdout and "random_forest" in shown.stdout


def test_push_and_pull_through_a_local_remote_restore_a_fresh_clone(clone, tmp_path):
    root, env = clone
    _run(["dvc", "repro"], root, env)
    remote = tmp_path / "remote"
    _run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], root, env)
    _run(["dvc", "push"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "pipeline outputs", "--allow-empty"], root, env)

    fresh = tmp_path / "fresh"
    _run(["git", "clone", "-q", str(root), str(fresh)], tmp_path, env)
    assert not (fresh / "models" / "model").exists()
    _run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], fresh, env)
    _run(["dvc", "pull"], fresh, env)
    for relative in [
        "data/prepared/train.parquet",
        "data/prepared/test.parquet",
        "models/model/MLmodel",
        "models/model/data/fraudctl/estimator.lgb.txt",
        "data/features/train.parquet",
        "reports/plots/confusion.csv",
    ]:
        assert (fresh / relative).read_bytes() == (root / relative).read_bytes(), relative
    status = _run(["dvc", "status"], fresh, env)
    assert "up to date" in status.stdout
