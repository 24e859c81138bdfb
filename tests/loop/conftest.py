"""A small simulated world for the continuous-training tests: 150 customers, labels two
days late, the change on day 12, windows of 14 labelled days."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "continuous" / "params.yaml"


def loop_params(directory: Path, **continuous: object) -> Path:
    """The example's params with a small world in ``directory`` and its own MLflow store."""
    params = yaml.safe_load(EXAMPLE.read_text())
    params["continuous"].update(
        {
            "workspace": str(directory / "loop"),
            "days": 30,
            "n_customers": 150,
            "n_terminals": 300,
            "label_delay_days": 2,
            "change_day": 12,
            "window_days": 14,
            "compare_days": 3,
            "card_k": 5,
            **continuous,
        }
    )
    params["tracking"]["uri"] = f"sqlite:///{directory / 'loop' / 'mlflow.db'}"
    params["tracking"]["artifact_location"] = str(directory / "loop" / "mlartifacts")
    path = directory / "loop-params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def loop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the loop's own store, not the suite's shared one
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
