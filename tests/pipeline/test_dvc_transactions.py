"""`dvc repro` of the transactions example in a copy of the repository."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.experiments.conftest import SMALL_EXPERIMENTS
from tests.pipeline.dvc_project import copy_repository, init_git, run

pytestmark = pytest.mark.slow


def test_the_transactions_example_runs_end_to_end(tmp_path):
    """docs/transactions.md: `cp examples/transactions/params.yaml params.yaml && dvc repro`,
    on a small log."""
    from tests.conftest import example_params

    copy_repository(tmp_path)
    params = example_params({"experiments": SMALL_EXPERIMENTS["experiments"]})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = init_git(tmp_path)
    first = run(["dvc", "repro"], tmp_path, env)
    for stage in ("prepare", "features", "train", "evaluate", "poison", "fairness", "drift"):
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads((tmp_path / "reports/metrics.json").read_text())
    assert 0 <= metrics["card_precision_at_k"] <= 1
    drift = json.loads((tmp_path / "reports/drift/results.json").read_text())
    assert "merchant_category" in drift["features"]
    assert "Running stage" not in run(["dvc", "repro"], tmp_path, env).stdout
