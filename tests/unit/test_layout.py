"""dvc.yaml and fraudctl.config.ProjectPaths describe the same files."""

from __future__ import annotations

import yaml

from fraudctl.config import SPLITS, ProjectPaths, load_params
from tests.conftest import REPO_ROOT


def _entries(items: list) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else i for i in items}


def test_stage_outputs_are_the_paths_the_code_writes():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    paths = ProjectPaths()
    assert _entries(stages["prepare"]["outs"]) == {paths.prepared_dir.as_posix()}
    assert _entries(stages["prepare"]["metrics"]) == {paths.data_report.as_posix()}
    assert {paths.split_file(s).as_posix() for s in ("train", "validation")} <= _entries(
        stages["train"]["deps"]
    )
    assert _entries(stages["train"]["outs"]) == {paths.model_dir.as_posix()}
    assert _entries(stages["train"]["metrics"]) == {paths.train_report.as_posix()}
    assert paths.split_file(SPLITS[2]).as_posix() in _entries(stages["evaluate"]["deps"])
    assert _entries(stages["evaluate"]["metrics"]) == {paths.metrics_file.as_posix()}
    plots = _entries(stages["evaluate"]["plots"])
    for name in ("pr_curve", "roc_curve", "calibration", "confusion"):
        assert (paths.plots_dir / f"{name}.csv").as_posix() in plots
    for experiment in ("poison", "fairness", "drift"):
        metrics = _entries(stages[experiment]["metrics"])
        assert metrics == {(paths.experiment_dir(experiment) / "metrics.json").as_posix()}


def test_stage_params_exist_in_params_yaml():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    params = load_params(REPO_ROOT / "params.yaml").model_dump(by_alias=True)
    for stage in stages.values():
        for key in stage.get("params", []):
            node = params
            for part in key.split("."):
                assert part in node, f"{key} is not in params.yaml"
                node = node[part]
