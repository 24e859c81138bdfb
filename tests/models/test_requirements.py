"""A saved model pins the packages it needs at the versions installed where it was trained,
which is why saving skips MLflow's check that the environment satisfies them (that check
reads every installed distribution's file list, seconds per training process)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path


def test_the_saved_requirements_are_the_installed_versions(model_dir: Path):
    import mlflow.utils.environment as environment

    pins = dict(
        line.split("==", 1)
        for line in (model_dir / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    for package in ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm"):
        assert pins.get(package) == version(package), (package, pins)
    # the check is skipped for fraudctl's own call only, never left switched off
    assert environment.warn_dependency_requirement_mismatches.__module__ == (
        "mlflow.utils.requirements_utils"
    )
