"""A small raw-transaction project (the example's params on a small log), trained once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudctl.config import ProjectPaths, parse_params
from tests.conftest import REPO_ROOT, _merge

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
    from fraudctl.data.prepare import prepare
    from fraudctl.features.build import build_features
    from fraudctl.model.train import train

    root = tmp_path_factory.mktemp("transactions")
    write_example_params(root)
    params = parse_params(example_params())
    paths = ProjectPaths(root)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_store
    try:
        prepare(params, paths)
        build_features(params, paths)
        train(params, paths)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return root
