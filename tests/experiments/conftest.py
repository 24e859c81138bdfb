"""A trained project copied into each test's own directory, with small experiment params."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fraudctl.paths import ProjectPaths
from tests.conftest import write_params

SMALL_EXPERIMENTS = {
    "tracking": {"registered_model": "served-model"},
    "experiments": {
        "poison": {
            "random_levels": [0.0, 0.1],
            "targeted_levels": [0.0, 0.5],
            "injection_levels": [0.0, 1.0],
            "seeds": 1,
            "max_train_rows": 3000,
            "model": {"lightgbm": {"n_estimators": 30, "learning_rate": 0.1}},
            "defence": {"detector_trees": 20},
        },
        "fairness": {"shap_rows": 200, "local_explanations": 2},
        "drift": {"max_rows": 2000},
    },
}


@pytest.fixture
def trained_project(project: Path, trained: ProjectPaths) -> Path:
    """The session's trained model and splits, in this test's working directory."""
    for name in ("data", "models", "reports"):
        shutil.copytree(trained.root / name, project / name)
    write_params(project, SMALL_EXPERIMENTS)
    return project
