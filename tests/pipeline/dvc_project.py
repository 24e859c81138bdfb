"""The repository as a new user's clone has it, for the tests that run ``dvc repro`` on it:
its tracked files copied into a new git repository, with small synthetic params, and the
one clone every test of tests/pipeline/test_dvc.py copies after it was repro'd once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, SMALL_PARAMS, cli_env
from tests.experiments.conftest import SMALL_EXPERIMENTS
from tests.once import built_once, copy_project


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def copy_repository(target: Path) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout to copy its tracked files")
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


def clone_env(target: Path) -> dict[str, str]:
    """The clone's own MLflow store, and a git identity for its commits."""
    return cli_env(
        MLFLOW_TRACKING_URI=f"sqlite:///{target / 'mlflow.db'}",
        MPLBACKEND="Agg",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )


def init_git(target: Path) -> dict[str, str]:
    env = clone_env(target)
    run(["git", "init", "-q", "-b", "main"], target, env)
    run(["git", "add", "-A"], target, env)
    run(["git", "commit", "-qm", "clone"], target, env)
    return env


def small_clone(target: Path) -> dict[str, str]:
    """The repository's tracked files in a new git repo, with small synthetic params."""
    copy_repository(target)
    params = yaml.safe_load((target / "params.yaml").read_text())
    params["data"]["synthetic"].update(SMALL_PARAMS["data"]["synthetic"])
    params["model"]["lightgbm"].update(SMALL_PARAMS["model"]["lightgbm"])
    # the budget's portfolio fits CatBoost four times here (three folds and the blend's
    # refit): 500 trees for 6,000 rows were half of `train`'s CPU time, and a few larger
    # steps still make lightgbm+catboost the clone's choice, the blend the tests expect
    params["model"]["catboost"].update({"iterations": 60, "learning_rate": 0.4})
    for name, values in SMALL_EXPERIMENTS["experiments"].items():
        params["experiments"][name].update(values)
    # params.yaml's selection budget picks a blend on this data, which SHAP explains by
    # permutation (~2 x features x background rows scored per row): the fewest rows
    params["experiments"]["fairness"].update({"shap_rows": 10, "local_explanations": 1})
    poison = params["experiments"]["poison"]
    poison["model"] = {"name": "lightgbm", **poison["model"]}  # as params.yaml writes it
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return init_git(target)


def _build_repro_clone(target: Path) -> dict[str, Any]:
    first = run(["dvc", "repro"], target, small_clone(target))
    return {"first_repro": first.stdout}


def repro_clone(factory: pytest.TempPathFactory, target: Path) -> tuple[Path, dict[str, str], str]:
    """A copy, at ``target``, of the small clone after its first ``dvc repro`` (run once per
    pytest run, whichever test asks first); with its environment and that repro's output."""
    built, notes = built_once(factory, "repro-clone", _build_repro_clone)
    copy_project(built, target)
    return target, clone_env(target), notes["first_repro"]
