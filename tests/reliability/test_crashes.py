"""A kill at any step of a command's writes leaves the old state or the new one, and the
next run removes what the killed one left. ``FRAUDCTL_FAULT_AT`` makes the command SIGKILL
itself at that step (fraudctl/faults.py)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLI_MODEL, cli_env

TRAIN_STEPS = [
    "train:before-register",
    "train:after-register",
    "train:after-model-swap",
    "train:after-record",
    "train:after-promotion",
]


def _run(project: Path, *command: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = cli_env(**({"FRAUDCTL_FAULT_AT": fault} if fault else {}))
    return subprocess.run(
        ["fraudctl", *command], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def _leftovers(project: Path) -> list[str]:
    return sorted(
        str(p.relative_to(project))
        for folder in ("models", "reports", "data")
        for p in (project / folder).glob(".*")
    )


@pytest.mark.slow
def test_a_killed_train_leaves_the_old_or_the_new_model(cli_trained):
    """One trained project, killed at each step in turn (each kill trains other params)."""
    from mlflow import MlflowClient

    from fraudctl.model.bundle import load_model
    from fraudctl.model.registry_record import read_registry_record

    project, registry_name = cli_trained, CLI_MODEL
    params = (project / "params.yaml").read_text()
    assert "n_estimators: 40" in params
    for trees, step in enumerate(TRAIN_STEPS, start=41):
        before = (project / "models/model/data/fraudctl/contract.json").read_bytes()
        (project / "params.yaml").write_text(
            params.replace("n_estimators: 40", f"n_estimators: {trees}")
        )
        killed = _run(project, "train", fault=step)
        assert killed.returncode == -signal.SIGKILL, (step, killed.stderr)

        model = load_model(project / "models/model")  # whole: old or new, never a mix
        assert 0 < model.threshold < 1
        after = (project / "models/model/data/fraudctl/contract.json").read_bytes()
        assert (after == before) == (step in TRAIN_STEPS[:2]), step
        record = read_registry_record(project / "models/model")
        if record:  # a record that is shown always describes the model beside it
            version = MlflowClient().get_model_version(registry_name, record["version"])
            assert version.run_id == record["run_id"], step

    retrained = _run(project, "train")
    assert retrained.returncode == 0, retrained.stderr
    assert _leftovers(project) == []
    assert read_registry_record(project / "models/model")["version"]
    assert _run(project, "evaluate").returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("step", ["prepare:before-swap", "prepare:after-swap"])
def test_a_killed_data_stage_leaves_no_temporaries_behind(project, step):
    assert _run(project, "data").returncode == 0
    report = json.loads((project / "reports/data.json").read_text())
    killed = _run(project, "data", fault=step)
    assert killed.returncode == -signal.SIGKILL
    assert json.loads((project / "reports/data.json").read_text())["splits"] == report["splits"]
    assert _run(project, "data").returncode == 0
    assert _leftovers(project) == []
