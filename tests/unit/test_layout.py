"""dvc.yaml and fraudctl.config.ProjectPaths describe the same files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fraudctl.config import SPLITS, ProjectPaths, load_params
from tests.conftest import REPO_ROOT


def _entries(items: list) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else i for i in items}


def test_stage_outputs_are_the_paths_the_code_writes():
    pipeline = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
    stages = pipeline["stages"]
    paths = ProjectPaths()
    assert _entries(stages["prepare"]["outs"]) == {
        paths.prepared_dir.as_posix(),
        paths.data_report.as_posix(),
    }
    assert "metrics" not in stages["prepare"]  # row counts and schema: detail, not a metric
    assert _entries(stages["features"]["outs"]) == {paths.features_dir.as_posix()}
    assert {paths.features_file(s).as_posix() for s in ("train", "validation")} <= _entries(
        stages["train"]["deps"]
    )
    assert _entries(stages["train"]["outs"]) == {paths.model_dir.as_posix()}
    emissions = {s: f"reports/emissions/{s}.json" for s in ("train", "poison", "fairness", "drift")}
    assert _entries(stages["train"]["metrics"]) == {paths.train_report.as_posix()}
    assert paths.features_file(SPLITS[2]).as_posix() in _entries(stages["evaluate"]["deps"])
    assert _entries(stages["evaluate"]["metrics"]) == {paths.metrics_file.as_posix()}
    assert paths.plots_dir.as_posix() in _entries(stages["evaluate"]["outs"])
    # Each chart is declared once: curve data only in the top-level `plots:` section.
    drawn = [file for plot in pipeline["plots"] for spec in plot.values() for file in spec["y"]]
    for name in ("pr_curve", "roc_curve", "calibration", "confusion"):
        assert drawn.count((paths.plots_dir / f"{name}.csv").as_posix()) == 1
    staged = [_entries(stage.get("plots", [])) for stage in stages.values()]
    assert not any(path.endswith(".csv") for paths_ in staged for path in paths_)
    assert len(drawn) == len(set(drawn))
    # energy files change on every run: neither an output nor a dep of any stage
    declared = set()
    for stage in stages.values():
        for kind in ("deps", "outs", "metrics"):
            declared |= _entries(stage.get(kind, []))
    assert not set(emissions.values()) & declared
    assert _entries(stages["card"]["outs"]) == {"reports/model_card.md"}
    for experiment in ("poison", "fairness", "drift"):
        metrics = _entries(stages[experiment]["metrics"])
        headline = (paths.experiment_dir(experiment) / "metrics.json").as_posix()
        assert metrics == {headline}
        results = (paths.experiment_dir(experiment) / "results.json").as_posix()
        assert results in _entries(stages[experiment]["outs"])


PARAMS_FILES = ["params.yaml", "examples/transactions/params.yaml"]


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_stage_params_exist_in_the_params_files(name):
    """DVC reads the file itself, not fraudctl's defaults: every key a stage names must be
    written out, or `dvc repro` stops with "Parameters ... are missing"."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    raw = yaml.safe_load((REPO_ROOT / name).read_text())
    load_params(REPO_ROOT / name)  # and it is valid
    for stage in stages.values():
        for key in stage.get("params", []):
            node = raw
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{name}: {key} is missing"
                node = node[part]


STAGE_MODULES = {
    "prepare": "fraudctl/data/prepare.py",
    "features": "fraudctl/features/build.py",
    "train": "fraudctl/model/train.py",
    "evaluate": "fraudctl/model/evaluate.py",
    "poison": "fraudctl/experiments/poison.py",
    "fairness": "fraudctl/experiments/fairness.py",
    "drift": "fraudctl/experiments/drift.py",
    "card": "fraudctl/model/card.py",
}
# Modules that cannot change a stage's outputs: messages, progress, the MLflow side channel.
NO_OUTPUT_EFFECT = {
    "fraudctl/__init__.py",
    "fraudctl/errors.py",
    "fraudctl/progress.py",
    "fraudctl/tracking.py",
}


def _imports(module: Path) -> set[str]:
    """fraudctl modules imported by ``module`` (at any depth in the file), as repo paths."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if not name.startswith("fraudctl"):
                continue
            base = REPO_ROOT / Path(*name.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.exists() and candidate.stat().st_size:
                    found.add(candidate.relative_to(REPO_ROOT).as_posix())
    return found


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += _imports(REPO_ROOT / current)
    return seen


def test_stage_deps_name_every_module_the_stage_imports():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for stage, entry in STAGE_MODULES.items():
        deps = _entries(stages[stage]["deps"])
        missing = sorted(
            module
            for module in _closure(entry) - NO_OUTPUT_EFFECT
            if not any(module == d or module.startswith(d.rstrip("/") + "/") for d in deps)
        )
        assert not missing, f"stage {stage}: add to deps in dvc.yaml: {missing}"
